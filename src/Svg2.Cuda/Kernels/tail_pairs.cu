// Tail pairing for the Hopper attention's tile plan. A query cluster whose rows past its whole 128-row tiles fill
// less than a 64-row half (its "tail") ends with a split tile, computed over all 64 rows; two clusters whose
// tails fit one half together and that select keys in common share one tile instead, computed over the union of
// their keys with each row masked to its own cluster's. That saves the keys both select once per row of
// the half, for every such pair (Svg2.Evaluation.Benchmarks.TailPairing is the same rule on the CPU).
//
// svg2_tail_candidates: grid (QC, G), kPairThreads threads. For cluster i with a tail, its candidates: the clusters j
//   whose tails fit beside i's and that select keys in common with i, ordered by the keys both select (the sizes of
//   the key clusters set in both mask rows, from svg2_key_ranges' mask bits), most first, then by id; written to
//   candidates [G, QC, QC] (the first candidate_count [G, QC] entries of row i). A block whose cluster has no tail
//   writes a count of 0 and leaves. A warp takes a column j at a time: its lanes AND words of the two rows (one
//   coalesced read of j's row of ceil(KC / 32) words) and sum the sizes of the common bits; the candidates, collected
//   in shared memory as (shared keys, inverted id) keys, are ranked by counting the greater keys.
// svg2_pair_tails: grid (G), kMatchThreads threads, a thread per cluster (QC <= kMatchThreads). The greedy matching
//   by shared keys, in rounds: every cluster without a partner proposes to its first candidate without one (a cursor
//   that only moves on, since a cluster once paired stays paired), and mutual proposals pair. The best pair left is
//   always mutual, so each round with a proposal pairs at least once, and with that strict order on pairs the rounds
//   end with the greedy matching (the pairs taken in order of shared keys, then of their lower, then higher
//   cluster). Writes partner [G, QC] (-1 without) and, for the lower cluster of each pair, its slot [G, QC] in the
//   pair range lists (pairs numbered in the order of their lower cluster).
// svg2_pair_ranges: grid (QC, G), kPairThreads threads. For the pair whose lower cluster is i: the range list
//   of the union of both clusters' key clusters in three segments (those only i selects, those both select,
//   those only the other selects), so that each row's keys are one interval of the virtual key sequence, and
//   the segments' bounds [G, slot, 2]: where the shared keys begin and end.
#include "common.cuh"
#include "key_ranges.cuh"

#ifndef SVG2_TAIL_PAIRS_THREADS
#error "SVG2_TAIL_PAIRS_THREADS must be defined (SparseAttentionTraits)"
#endif
#ifndef SVG2_TAIL_PAIRS_MATCH_THREADS
#error "SVG2_TAIL_PAIRS_MATCH_THREADS must be defined (SparseAttentionTraits)"
#endif
#ifndef SVG2_TAIL_PAIRS_HALF_ROWS
#error "SVG2_TAIL_PAIRS_HALF_ROWS must be defined (SparseAttentionTraits)"
#endif

constexpr int kPairThreads = SVG2_TAIL_PAIRS_THREADS;
constexpr int kMatchThreads = SVG2_TAIL_PAIRS_MATCH_THREADS;
constexpr int kHalfRows = SVG2_TAIL_PAIRS_HALF_ROWS;   // rows of a consumer warpgroup, the unit a tail fills

// A cluster's tail where its last tile is a split tile already (rows past its whole tiles at most a half): a longer
// remainder would become a split tile and a pair tile, and split tiles run below whole tiles' rate, so it keeps its
// one tile. 0 when the cluster has no such tail.
__device__ __forceinline__ int tail_rows(const int64* offsets, int cluster)
{
    const int64 rows = offsets[cluster + 1] - offsets[cluster];
    return rows % (2 * kHalfRows) < kHalfRows ? (int)(rows % kHalfRows) : 0;
}

extern "C" __global__ void __launch_bounds__(kPairThreads)
svg2_tail_candidates(const unsigned* __restrict__ mask_bits, const int64* __restrict__ query_offsets, const int64* __restrict__ key_offsets,
                     int* __restrict__ candidates, int* __restrict__ candidate_count, int qc, int kc)
{
    extern __shared__ unsigned long long candidate_shared[];
    __shared__ int found;
    const int words = (kc + kWarpSize - 1) / kWarpSize;
    unsigned long long* keys = candidate_shared;           // [qc]: shared keys << 32 | ~id, greater is better
    int* sizes = (int*)(keys + qc);                        // [kc]
    unsigned* own_bits = (unsigned*)(sizes + kc);          // [words]
    const int i = blockIdx.x, g = blockIdx.y, lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
    const int64* offsets = query_offsets + (int64)g * (qc + 1);
    const int tail = tail_rows(offsets, i);
    if (tail == 0)
    {
        if (threadIdx.x == 0) candidate_count[(int64)g * qc + i] = 0;
        return;
    }
    const int64* key_bounds = key_offsets + (int64)g * (kc + 1);
    const unsigned* group_bits = mask_bits + (int64)g * qc * words;
    for (int b = threadIdx.x; b < kc; b += kPairThreads) sizes[b] = (int)(key_bounds[b + 1] - key_bounds[b]);
    for (int w = threadIdx.x; w < words; w += kPairThreads) own_bits[w] = group_bits[(int64)i * words + w];
    if (threadIdx.x == 0) found = 0;
    __syncthreads();
    for (int j = warp; j < qc; j += kPairThreads / kWarpSize)
    {
        const int other_tail = tail_rows(offsets, j);
        if (j == i || other_tail == 0 || tail + other_tail > kHalfRows) continue;   // the same for the whole warp
        int shared_keys = 0;
        for (int w = lane; w < words; w += kWarpSize)
            for (unsigned common = own_bits[w] & group_bits[(int64)j * words + w]; common != 0; common &= common - 1)
                shared_keys += sizes[w * kWarpSize + __ffs(common) - 1];
#pragma unroll
        for (int offset = kWarpSize / 2; offset > 0; offset /= 2) shared_keys += __shfl_xor_sync(kFullMask, shared_keys, offset);
        if (lane == 0 && shared_keys > 0) keys[atomicAdd(&found, 1)] = (unsigned long long)shared_keys << 32 | (unsigned)~j;
    }
    __syncthreads();
    const int count = found;
    int* row = candidates + ((int64)g * qc + i) * qc;
    for (int a = threadIdx.x; a < count; a += kPairThreads)
    {
        const unsigned long long key = keys[a];
        int rank = 0;
        for (int b = 0; b < count; ++b) rank += keys[b] > key;   // keys are distinct: ranks are a permutation
        row[rank] = (int)~(unsigned)key;
    }
    if (threadIdx.x == 0) candidate_count[(int64)g * qc + i] = count;
}

extern "C" __global__ void __launch_bounds__(kMatchThreads)
svg2_pair_tails(const int* __restrict__ candidates, const int* __restrict__ candidate_count, int* __restrict__ partner, int* __restrict__ pair_slot,
                int qc)
{
    extern __shared__ int match_shared[];
    int* partners = match_shared;          // [qc]
    int* proposals = partners + qc;        // [qc]
    const int g = blockIdx.x, c = threadIdx.x;
    const bool cluster = c < qc;
    const int* list = candidates + ((int64)g * qc + c) * qc;
    const int count = cluster ? candidate_count[(int64)g * qc + c] : 0;
    int cursor = 0;
    if (cluster) partners[c] = -1;
    __syncthreads();
    for (;;)
    {
        int proposal = -1;
        if (cluster && partners[c] < 0)
        {
            while (cursor < count && partners[list[cursor]] >= 0) ++cursor;
            if (cursor < count) proposal = list[cursor];
        }
        if (cluster) proposals[c] = proposal;
        __syncthreads();
        if (proposal >= 0 && proposals[proposal] == c) partners[c] = proposal;
        if (!__syncthreads_or(proposal >= 0)) break;
    }
    // Slots in the order of the pairs' lower clusters; proposals is free for the scan.
    if (cluster) proposals[c] = partners[c] > c ? 1 : 0;
    __syncthreads();
    if (threadIdx.x < kWarpSize) warp_exclusive_scan_in_place(proposals, qc);
    __syncthreads();
    if (cluster)
    {
        partner[(int64)g * qc + c] = partners[c];
        pair_slot[(int64)g * qc + c] = partners[c] > c ? proposals[c] : -1;
    }
}

extern "C" __global__ void __launch_bounds__(kPairThreads)
svg2_pair_ranges(const unsigned char* __restrict__ mask, const int64* __restrict__ key_offsets, const int* __restrict__ partner,
                 const int* __restrict__ pair_slot, int* __restrict__ range_start, int* __restrict__ range_end, int* __restrict__ range_count,
                 int* __restrict__ bounds, int qc, int kc, int pair_capacity)
{
    __shared__ int range_prefix[kPairThreads];
    __shared__ int key_prefix[kPairThreads];
    __shared__ int totals[2];
    const int i = blockIdx.x, g = blockIdx.y;
    const int other = partner[(int64)g * qc + i];
    if (other <= i) return;   // no pair, or i is its higher cluster
    const int64 slot = (int64)g * pair_capacity + pair_slot[(int64)g * qc + i];
    const unsigned char* first = mask + ((int64)g * qc + i) * kc;
    const unsigned char* second = mask + ((int64)g * qc + other) * kc;
    const int64* offsets = key_offsets + (int64)g * (kc + 1);
    int* starts = range_start + slot * kc;
    int* ends = range_end + slot * kc;
    const int2 only_first = append_key_ranges<kPairThreads>([&](int j) { return first[j] && !second[j]; }, offsets, kc, starts, ends, 0, 0,
                                                            range_prefix, key_prefix, totals);
    __syncthreads();
    const int2 both = append_key_ranges<kPairThreads>([&](int j) { return first[j] && second[j]; }, offsets, kc, starts, ends, only_first.x,
                                                      only_first.y, range_prefix, key_prefix, totals);
    __syncthreads();
    const int2 only_second = append_key_ranges<kPairThreads>([&](int j) { return !first[j] && second[j]; }, offsets, kc, starts, ends,
                                                             only_first.x + both.x, only_first.y + both.y, range_prefix, key_prefix, totals);
    if (threadIdx.x == 0)
    {
        range_count[slot] = only_first.x + both.x + only_second.x;
        bounds[2 * slot] = only_first.y;
        bounds[2 * slot + 1] = only_first.y + both.y;
    }
}
