// Walking the selected key ranges of a query cluster as one virtual key sequence (the attention
// kernels' K/V row addressing): range i covers virtual rows [ends[i - 1], ends[i]) and starts at
// permuted key row starts[i].
#pragma once
#include "common.cuh"

// The original key token behind virtual row 'v' of the tile's key sequence, or -1 past its end.
// 'cursor' is the range holding the previous row this thread looked up: rows only grow, so it only
// moves forward (about one range per tile instead of a binary search).
__device__ __forceinline__ int key_token(int v, int total_keys, const int* starts, const int* ends, int& cursor,
                                         const int64* key_permutation)
{
    if (v >= total_keys) return -1;
    while (ends[cursor] <= v) ++cursor;
    int begin = cursor > 0 ? ends[cursor - 1] : 0;
    return (int)key_permutation[starts[cursor] + (v - begin)];
}

// One query tile of the plan: a cluster id, its first permuted query row and the rows it holds. A pair
// tile (slot >= 0) holds two clusters' tails: 'rows' rows of 'cluster' from 'begin', then 'second_rows'
// rows of 'second_cluster' from 'second_begin', over the key ranges of pair slot 'slot'.
struct QueryTile
{
    int cluster;
    int64 begin;
    int rows;
    int second_cluster;
    int64 second_begin;
    int second_rows;
    int slot;

    __device__ __forceinline__ int total_rows() const { return rows + second_rows; }
    // Row 'row' of the tile as a row of the permuted query sequence, or -1 past the tile's rows.
    __device__ __forceinline__ int64 permuted_row(int row) const
    {
        return row < rows ? begin + row : row < rows + second_rows ? second_begin + (row - rows) : -1;
    }
};

// The tile behind work item 'work' of problem 'g' (svg2_plan_tiles' order and tile starts); false
// past the problem's tile count (the grid is sized by the maximum over problems). Every lane of the
// calling warp must take part with the same 'work' and 'g'. With 'partner' (svg2_pair_tails; null for a
// plan without pair tiles), a paired cluster's own tiles stop before its tail (its rows past the last whole
// half tile of rows_per_tile / 2 rows), and the lower cluster of a pair ends with the pair tile, which
// holds both tails (tile starts of the paired plan).
__device__ __forceinline__ bool locate_query_tile(QueryTile& tile, int work, int g, int qc, int rows_per_tile, const int* order,
                                                  const int* tile_start, const int64* query_offsets, const int* partner = nullptr,
                                                  const int* pair_slot = nullptr)
{
    const int* starts_of_group = tile_start + (int64)g * (qc + 1);
    if (work >= starts_of_group[qc]) return false;
    // The sorted cluster whose tiles contain this work item: the last p with start[p] <= work (start[0] = 0 and the
    // starts never decrease; a cluster without tiles of its own is skipped since a later one shares its start). Each
    // round the warp's lanes probe 32 evenly spaced starts of [low, high) at once and keep the stretch after the last
    // one at most 'work': two rounds of loads up to 1,024 clusters, where a binary search walked one dependent load
    // per halving (nine at 300 clusters) before the block could start.
    const int lane = threadIdx.x % kWarpSize;
    int low = 0, high = qc;
    while (high - low > 1)
    {
        const int stride = (high - low + kWarpSize - 1) / kWarpSize;
        const int probe = low + lane * stride;
        const unsigned at_most = __ballot_sync(kFullMask, probe < high && starts_of_group[probe] <= work);
        low += (kWarpSize - 1 - __clz(at_most)) * stride;
        high = min(low + stride, high);
    }
    const int64* offsets = query_offsets + (int64)g * (qc + 1);
    tile.cluster = order[(int64)g * qc + low];
    tile.second_rows = 0;
    tile.slot = -1;
    const int64 cluster_begin = offsets[tile.cluster];
    int64 cluster_end = offsets[tile.cluster + 1];
    const int index = work - starts_of_group[low];
    const int other = partner == nullptr ? -1 : partner[(int64)g * qc + tile.cluster];
    if (other >= 0)
    {
        const int half_rows = rows_per_tile / 2;
        const int64 own_end = cluster_end - (cluster_end - cluster_begin) % half_rows;
        if (cluster_begin + (int64)index * rows_per_tile >= own_end)
        {
            // The pair tile, past the lower cluster's own tiles: its tail, then the partner's.
            tile.begin = own_end;
            tile.rows = (int)(cluster_end - own_end);
            const int64 other_end = offsets[other + 1];
            tile.second_cluster = other;
            tile.second_rows = (int)((other_end - offsets[other]) % half_rows);
            tile.second_begin = other_end - tile.second_rows;
            tile.slot = pair_slot[(int64)g * qc + tile.cluster];
            return true;
        }
        cluster_end = own_end;
    }
    tile.begin = cluster_begin + (int64)index * rows_per_tile;
    tile.rows = (int)min((int64)rows_per_tile, cluster_end - tile.begin);
    return true;
}

// Appends to a range list the ranges of the key clusters j < kc with selected(j), each the permuted key rows
// [offsets[j], offsets[j + 1]) (adjacent clusters of one thread's share merge, empty ones are skipped): the
// list's entries from 'first_range' on, its virtual keys from 'first_key' on. Every thread of the block
// (Threads) calls it; returns the ranges and keys appended. 'range_prefix' and 'key_prefix' are [Threads]
// shared scratch, 'totals' two shared ints.
template <int Threads, typename Selected>
__device__ __forceinline__ int2 append_key_ranges(Selected selected, const int64* offsets, int kc, int* starts, int* ends, int first_range,
                                                  int first_key, int* range_prefix, int* key_prefix, int* totals)
{
    const int per_thread = (kc + Threads - 1) / Threads;
    const int first = threadIdx.x * per_thread, last = min(kc, first + per_thread);
    int ranges = 0, keys = 0;
    int64 previous_end = -1;
    for (int j = first; j < last; ++j)
    {
        if (!selected(j)) continue;
        const int64 begin = offsets[j], end = offsets[j + 1];
        if (end == begin) continue;
        if (begin != previous_end) ++ranges;
        keys += (int)(end - begin);
        previous_end = end;
    }
    range_prefix[threadIdx.x] = ranges;
    key_prefix[threadIdx.x] = keys;
    __syncthreads();
    if (threadIdx.x < kWarpSize)
    {
        const int range_total = warp_exclusive_scan_in_place(range_prefix, Threads);
        const int key_total = warp_exclusive_scan_in_place(key_prefix, Threads);
        if (threadIdx.x == 0) { totals[0] = range_total; totals[1] = key_total; }
    }
    __syncthreads();
    int r = first_range + range_prefix[threadIdx.x], virtual_end = first_key + key_prefix[threadIdx.x];
    previous_end = -1;
    for (int j = first; j < last; ++j)
    {
        if (!selected(j)) continue;
        const int64 begin = offsets[j], end = offsets[j + 1];
        if (end == begin) continue;
        if (begin != previous_end) starts[r++] = (int)begin;
        virtual_end += (int)(end - begin);
        ends[r - 1] = virtual_end;
        previous_end = end;
    }
    return make_int2(totals[0], totals[1]);
}

// Copies the range list of (problem, query cluster) 'pair' into shared memory; returns its length.
// Callers synchronise before reading.
__device__ __forceinline__ int load_key_ranges(int* starts, int* ends, int64 pair, int kc, const int* range_start, const int* range_end,
                                               const int* range_count, int threads)
{
    const int ranges = range_count[pair];
    for (int r = threadIdx.x; r < ranges; r += threads)
    {
        starts[r] = range_start[pair * kc + r];
        ends[r] = range_end[pair * kc + r];
    }
    return ranges;
}
