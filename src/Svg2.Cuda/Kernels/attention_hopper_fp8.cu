// FP8 (e4m3) variable-block sparse attention for Hopper (sm_90a): the scheme of the reference
// Fp8BlockSparseAttention with per-token Q scales, per-head or per-token K scales, K smoothed or not, V scaled per
// channel.
//
// svg2_fp8_quantize_rows: the rows of a [G, N, D] bf16/fp16 tensor, in original token order. A lane holds
//   kQuantizeChunksPerLane 16-byte chunks of a row (a row on kQuantizeLanesPerRow neighbouring lanes, its maximum
//   and bias by xor shuffles among them); a block of kQuantizeWarps warps takes kQuantizeRowsPerBlock consecutive
//   rows, each lane loading its kQuantizeRowsInFlight rows' chunks before converting any (a warp per row with
//   8-byte loads ran at 1.5-2.3 TB/s; this runs at the memory's rate), and the per-row work (the group, the
//   maximum's shuffles, two correctly rounded divisions) is shared by few lanes. x - mean[g] (K smoothing; null: none) is scaled by 448 / its row's absolute maximum (per-token
//   scales: the dequantisation scale amax / 448 is written to row_scales, 1 for an all-zero row) or
//   by a given per-channel inverse scale (V; K with per-head scales, the head's inverse in every
//   channel), and rounded to e4m3 with saturation.
//   Traffic: the row once in, one byte per element and one float per row out.
// svg2_fp8_channel_statistics: grid (ceil(N / kStatisticsSliceRows), G), kStatisticsThreads threads; per group and
//   channel the sum, smallest and largest value (NaN kept) over a slice of kStatisticsSliceRows rows, a thread per
//   16-byte chunk of kStatisticsRowLanes rows at a time, the row lanes then combined in order through shared
//   memory: partials [G, slices, 3, D] float32 that the host combines over the slices (K's smoothing mean, V's and
//   per-head K's channel magnitudes). One pass over a tensor for all three, where TorchSharp reductions took one per
//   statistic (K's mean, then its extremes about it for per-head scales). Traffic: x once in.
// svg2_sparse_attention_hopper_fp8_head_keys (per-head K scales) and svg2_sparse_attention_hopper_fp8
// (per-token K scales): the warp specialisation and tile plan of attention_hopper.cu
//   (grid (max tiles, G), 3 warpgroups, one block per multiprocessor) on e4m3 operands.
//   Producer (warpgroup 0): gathers the tile's Q rows once; per 128-key tile of the query cluster's
//   virtual key sequence it gathers the K rows into a swizzled K stage and the V rows into a swizzled
//   staging buffer (cp.async, arriving on "full" as they land) and, per-token, writes the keys' scales (tokens
//   and scales looked up a tile ahead, their loads in flight during a transpose); two tiles
//   later, once its copies have landed, it transposes the staged V into the V^T stage (rows = channels,
//   128 key bytes each, K-major for wgmma; ldmatrix.trans on channel pairs, two byte permutes, stmatrix) and
//   arrives on "values full". The transpose also reorders
//   each 16 keys to 2c, 2c+1, 2c+8, 2c+9 (c = 0..3), the order in which an S accumulator's columns
//   sit in the register A operand of an e4m3 wgmma, so P goes from accumulators to A with no shuffle.
//   Consumers (warpgroups 1 and 2, 64 rows each; split tiles as in attention_hopper.cu): S = Q K^T
//   as D/32 e4m3 k32 steps (fp32 accumulators), then (per-token keys only) per score s x k_scale[key],
//   the row factor q_scale[row] x scale x log2(e) (x the head's k_scale with per-head keys) applied in
//   the exponent; the online softmax in the exp2 domain,
//   P x 448 taken straight from the exponent (the maximum lowered by log2 448); P x 448 to e4m3 in
//   registers; the tile's P V as one e4m3 chain of 4 k32 steps into fresh accumulators (the inner
//   level: Hopper's FP8 accumulation is narrower than fp32), then O = O x correction + product in one
//   fused multiply-add (the outer level). V^T carries kSumRows rows of ones after its D channels, so
//   P V's columns D .. D + 7 are each row's sum of the rounded P x 448: the row sums cost the tensor
//   cores 8 columns instead of the softmax an add per score, and they normalise by the weights the
//   products used. Only a sequence's partial last tile is masked. The store multiplies by V's channel
//   scales and 1 / row sum; a row with no selected key is 0.
//   In a split tile (at most 64 rows; each consumer takes 64 keys of every tile) the consumers exchange
//   their halves' row maxima through shared memory once a tile, so P is rounded against the whole tile's
//   running maximum as in the reference.
//   Pair tiles (tail_pairs.cu) as in attention_hopper.cu: a split tile may hold two clusters' tails over the union of
//   their keys, each row masking the keys its cluster did not select after the key scales.
//   The producer runs kFp8Stages tiles ahead and transposes tile j after the gathers of tiles j + 1 and
//   j + 2 are issued, so that three tiles' copies are in flight while it waits for the oldest: waiting on
//   the previous tile alone held it to one tile per memory latency.
// Shared memory (D 128, 4 stages): Q 16 KiB + 4 x (K 16 KiB + V^T 17 KiB + 1 KiB of key scales and biases) + 3 x
//   16 KiB of staged V + 1 KiB of exchanged maxima + 3 token lists + 13 barriers + the range list (8 x KC bytes). Traffic per tile: Q rows
//   once, every selected K and V row (1 byte an element) once per 128 query rows, output once.
#include "attention_hopper.cuh"
#include "fp8.cuh"

#ifndef SVG2_FP8_PROBABILITY_SCALE
#error "SVG2_FP8_PROBABILITY_SCALE must be defined (Fp8AttentionTraits)"
#endif
#ifndef SVG2_FP8_QUANTIZE_WARPS
#error "SVG2_FP8_QUANTIZE_WARPS must be defined (Fp8AttentionTraits)"
#endif
#ifndef SVG2_FP8_QUANTIZE_ROWS_IN_FLIGHT
#error "SVG2_FP8_QUANTIZE_ROWS_IN_FLIGHT must be defined (Fp8AttentionTraits)"
#endif
#ifndef SVG2_FP8_QUANTIZE_CHUNKS_PER_LANE
#error "SVG2_FP8_QUANTIZE_CHUNKS_PER_LANE must be defined (Fp8AttentionTraits)"
#endif
#ifndef SVG2_FP8_STATISTICS_THREADS
#error "SVG2_FP8_STATISTICS_THREADS must be defined (Fp8AttentionTraits)"
#endif
#ifndef SVG2_FP8_CHANNEL_STATISTICS
#error "SVG2_FP8_CHANNEL_STATISTICS must be defined (Fp8AttentionTraits)"
#endif
#ifndef SVG2_FP8_STATISTICS_SLICE_ROWS
#error "SVG2_FP8_STATISTICS_SLICE_ROWS must be defined (Fp8AttentionTraits)"
#endif
#ifndef SVG2_FP8_STAGES
#error "SVG2_FP8_STAGES must be defined (Fp8AttentionTraits)"
#endif
#ifndef SVG2_FP8_SUM_ROWS
#error "SVG2_FP8_SUM_ROWS must be defined (Fp8AttentionTraits)"
#endif

constexpr float kProbabilityScale = SVG2_FP8_PROBABILITY_SCALE;   // P in [0, 1] is stored as e4m3(P x this)
constexpr int kQuantizeWarps = SVG2_FP8_QUANTIZE_WARPS;           // warps of a quantisation block
constexpr int kQuantizeRowsInFlight = SVG2_FP8_QUANTIZE_ROWS_IN_FLIGHT;  // rows a lane loads before converting any
constexpr int kQuantizeChunksPerLane = SVG2_FP8_QUANTIZE_CHUNKS_PER_LANE;  // 16-byte chunks of a row per lane
constexpr int kQuantizeLanesPerRow = kRowChunks / kQuantizeChunksPerLane;
static_assert(kRowChunks % kQuantizeChunksPerLane == 0 && kWarpSize % kQuantizeLanesPerRow == 0, "whole rows per warp");
constexpr int kQuantizeRowsPerWarp = kWarpSize / kQuantizeLanesPerRow;     // rows a warp holds at once
constexpr int kStatisticsThreads = SVG2_FP8_STATISTICS_THREADS;
constexpr int kStatisticsSliceRows = SVG2_FP8_STATISTICS_SLICE_ROWS;  // rows of a group one statistics block reads
constexpr int kChannelStatistics = SVG2_FP8_CHANNEL_STATISTICS;
constexpr int kStatisticSum = 0, kStatisticSmallest = 1, kStatisticLargest = 2;
static_assert(kChannelStatistics == kStatisticLargest + 1, "the host sizes the partials for the sum, smallest and largest");
constexpr int kQuantizeRowStride = kQuantizeWarps * kQuantizeRowsPerWarp;  // rows between a lane's successive rows
constexpr int kQuantizeRowsPerBlock = kQuantizeRowStride * kQuantizeRowsInFlight;

// The kQuantizeLanesPerRow neighbouring lanes that hold one row: 'combine' over them by xor shuffles, the result in each.
template <class Combine>
__device__ __forceinline__ float row_lanes_reduce(float x, Combine combine)
{
#pragma unroll
    for (int offset = 1; offset < kQuantizeLanesPerRow; offset *= 2) x = combine(__shfl_xor_sync(kFullMask, x, offset), x);
    return x;
}

// Eight consecutive floats of a [G, D] per-channel vector (16-byte aligned: D and the chunk are multiples of 8).
__device__ __forceinline__ void load_channels(const float* vector, int at, float (&x)[kChunkElements])
{
    const float4 low = *(const float4*)(vector + at), high = *(const float4*)(vector + at + 4);
    x[0] = low.x, x[1] = low.y, x[2] = low.z, x[3] = low.w, x[4] = high.x, x[5] = high.y, x[6] = high.z, x[7] = high.w;
}

extern "C" __global__ void __launch_bounds__(kQuantizeWarps * kWarpSize)
svg2_fp8_quantize_rows(const element_t* __restrict__ x, const float* __restrict__ mean, const float* __restrict__ channel_inverse,
                       const float* __restrict__ bias_vector, unsigned char* __restrict__ out, float* __restrict__ row_scales,
                       float* __restrict__ row_bias, int groups, int rows)
{
    const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize, lane_in_row = lane % kQuantizeLanesPerRow;
    const int total = groups * rows;  // below 2^31 (the host checks)
    const int first_row = blockIdx.x * kQuantizeRowsPerBlock + warp * kQuantizeRowsPerWarp + lane / kQuantizeLanesPerRow;
    const bool per_channel = mean != nullptr || channel_inverse != nullptr || bias_vector != nullptr;
    // Lane l of a row holds chunks l, l + kQuantizeLanesPerRow, ...: each load instruction covers a contiguous span of
    // every row. All rows' chunks are loaded before any is used, so kQuantizeRowsInFlight x kQuantizeChunksPerLane
    // 16-byte loads per lane are in flight.
    uint4 bits[kQuantizeRowsInFlight][kQuantizeChunksPerLane];
#pragma unroll
    for (int i = 0; i < kQuantizeRowsInFlight; ++i)
    {
        const int row = first_row + i * kQuantizeRowStride;
#pragma unroll
        for (int c = 0; c < kQuantizeChunksPerLane; ++c)
        {
            const int chunk = lane_in_row + c * kQuantizeLanesPerRow;
            bits[i][c] = row < total ? *(const uint4*)(x + (int64)row * kHeadDim + chunk * kChunkElements) : make_uint4(0, 0, 0, 0);
        }
    }
#pragma unroll
    for (int i = 0; i < kQuantizeRowsInFlight; ++i)
    {
        // Rows past the end compute on zeros so that every lane takes part in the shuffles; they store nothing.
        const int row = first_row + i * kQuantizeRowStride;
        const bool in_range = row < total;
        const int group_channels = per_channel && in_range ? row / rows * kHeadDim : 0;
        float value[kQuantizeChunksPerLane][kChunkElements];
        float magnitude = 0.f, dot = 0.f;
#pragma unroll
        for (int c = 0; c < kQuantizeChunksPerLane; ++c)
        {
            const int at = group_channels + (lane_in_row + c * kQuantizeLanesPerRow) * kChunkElements;
            const element_t* elements = (const element_t*)&bits[i][c];
            float centre[kChunkElements], query_mean[kChunkElements];
            if (mean != nullptr) load_channels(mean, at, centre);
            if (bias_vector != nullptr) load_channels(bias_vector, at, query_mean);
#pragma unroll
            for (int e = 0; e < kChunkElements; ++e)
            {
                value[c][e] = element_to_float(elements[e]);
                if (mean != nullptr) value[c][e] -= centre[e];
                // NaN propagates into the maximum, so a row holding one gets a NaN scale as in the reference.
                magnitude = nan_max(magnitude, fabsf(value[c][e]));
                // Q smoothing's key bias: the row (after K smoothing) dotted with the mean query, from the unrounded values.
                if (bias_vector != nullptr) dot = fmaf(value[c][e], query_mean[e], dot);
            }
        }
        if (bias_vector != nullptr)
        {
            dot = row_lanes_reduce(dot, [](float a, float b) { return a + b; });
            if (lane_in_row == 0 && in_range) row_bias[row] = dot;
        }
        float row_inverse = 1.f;
        if (channel_inverse == nullptr)
        {
            magnitude = row_lanes_reduce(magnitude, nan_max);
            // Correctly rounded divisions, as the reference's tensor divisions.
            row_inverse = magnitude == 0.f ? 1.f : __fdiv_rn(kE4M3Max, magnitude);
            if (lane_in_row == 0 && in_range) row_scales[row] = magnitude == 0.f ? 1.f : __fdiv_rn(magnitude, kE4M3Max);
        }
#pragma unroll
        for (int c = 0; c < kQuantizeChunksPerLane; ++c)
        {
            const int chunk = lane_in_row + c * kQuantizeLanesPerRow;
            float inverse[kChunkElements];
            if (channel_inverse != nullptr) load_channels(channel_inverse, group_channels + chunk * kChunkElements, inverse);
#pragma unroll
            for (int e = 0; e < kChunkElements; ++e) value[c][e] *= channel_inverse != nullptr ? inverse[e] : row_inverse;
            if (in_range) *(uint2*)(out + (int64)row * kHeadDim + chunk * kChunkElements) = to_e4m3(value[c]);
        }
    }
}

constexpr int kStatisticsRowLanes = kStatisticsThreads / kRowChunks;  // rows a block reads at once, a thread per chunk
static_assert(kStatisticsThreads % kRowChunks == 0 && kStatisticsSliceRows % kStatisticsRowLanes == 0, "whole rows per pass");

extern "C" __global__ void __launch_bounds__(kStatisticsThreads)
svg2_fp8_channel_statistics(const element_t* __restrict__ x, float* __restrict__ partials, int rows)
{
    __shared__ float lane_partials[kChannelStatistics][kStatisticsRowLanes][kHeadDim];
    const int slice = blockIdx.x, slices = gridDim.x, g = blockIdx.y;
    const int chunk = threadIdx.x % kRowChunks, row_lane = threadIdx.x / kRowChunks;
    const int begin = slice * kStatisticsSliceRows, end = min(rows, begin + kStatisticsSliceRows);
    const element_t* group_rows = x + (int64)g * rows * kHeadDim + chunk * kChunkElements;
    float sum[kChunkElements], smallest[kChunkElements], largest[kChunkElements];
#pragma unroll
    for (int e = 0; e < kChunkElements; ++e) sum[e] = 0.f, smallest[e] = __int_as_float(0x7f800000), largest[e] = negative_infinity();
#pragma unroll 4
    for (int row = begin + row_lane; row < end; row += kStatisticsRowLanes)
    {
        const uint4 bits = *(const uint4*)(group_rows + (int64)row * kHeadDim);
        const element_t* elements = (const element_t*)&bits;
#pragma unroll
        for (int e = 0; e < kChunkElements; ++e)
        {
            const float value = element_to_float(elements[e]);
            sum[e] += value;
            smallest[e] = nan_min(smallest[e], value);
            largest[e] = nan_max(largest[e], value);
        }
    }
#pragma unroll
    for (int e = 0; e < kChunkElements; ++e)
    {
        lane_partials[kStatisticSum][row_lane][chunk * kChunkElements + e] = sum[e];
        lane_partials[kStatisticSmallest][row_lane][chunk * kChunkElements + e] = smallest[e];
        lane_partials[kStatisticLargest][row_lane][chunk * kChunkElements + e] = largest[e];
    }
    __syncthreads();
    // The row lanes in order, so the sums do not depend on timing.
    for (int entry = threadIdx.x; entry < kChannelStatistics * kHeadDim; entry += kStatisticsThreads)
    {
        const int statistic = entry / kHeadDim, channel = entry % kHeadDim;
        float total = lane_partials[statistic][0][channel];
        for (int lane = 1; lane < kStatisticsRowLanes; ++lane)
        {
            const float next = lane_partials[statistic][lane][channel];
            total = statistic == kStatisticSum ? total + next : statistic == kStatisticSmallest ? nan_min(total, next) : nan_max(total, next);
        }
        partials[(((int64)g * slices + slice) * kChannelStatistics + statistic) * kHeadDim + channel] = total;
    }
}

// setmaxnreg budgets: the producer transposes 16 words at a time. 128 x 88 + 256 x 208 = 384 x 168.
constexpr int kProducerRegisters = 88;
constexpr int kConsumerRegisters = 208;
static_assert(registers_fit(kProducerRegisters, kConsumerRegisters), "registers the block owns");
constexpr int kFp8Stages = SVG2_FP8_STAGES;                     // K and V^T stages: the producer runs this many tiles ahead
constexpr int kTransposeLag = 2;                                // tiles whose copies may still land while a tile is transposed
constexpr int kStagingSlots = kTransposeLag + 1;                // staged V rows: those landing and the one transposed
constexpr int kExchangeParities = 2;                            // split tiles' row maxima: alternate buffers need one barrier a tile
constexpr int kSoftwareExpPeriod = 4;                           // one in this many 8-column tiles of P takes exp2_polynomial
constexpr int kQuerySteps = kHeadDim / kFp8WgmmaK;               // k32 steps of S = Q K^T
constexpr int kValueSteps = kTileKeys / kFp8WgmmaK;             // k32 steps of a tile's P V
constexpr int kHalfValueSteps = kValueSteps / 2;               // a split tile consumer's
constexpr int kTileQueryBytes = kTileRows * kFp8RowBytes;       // Q: 128 rows, D bytes used of each
constexpr int kTileKeyBytes = kTileKeys * kFp8RowBytes;         // a K stage
constexpr int kSumRows = SVG2_FP8_SUM_ROWS;                     // V^T rows of ones after the channels: P V's row-sum columns
constexpr int kValueRows = kHeadDim + kSumRows;                 // N of the P V product
constexpr int kValueTileBytes = kValueRows * kFp8RowBytes;      // a V^T stage: D + kSumRows rows of 128 key bytes
constexpr int kFp8OutputRegisters = kValueRows / 2;             // O and its row-sum columns, 64 rows over 128 threads
constexpr int kFp8OutputColumnTiles = kValueRows / 8;
constexpr unsigned kE4M3OnesWord = 0x38383838u;                // four e4m3 1.0
constexpr int kStagingBytes = kTileKeys * kHeadDim;             // a tile of gathered V rows
constexpr int kDataChunks = kHeadDim / 16;                      // 16-byte chunks of an e4m3 row
constexpr int kGatherRowsPerPass = kProducerThreads / kDataChunks;
constexpr int kKeyGroup = 16;                                   // keys the P-order reordering permutes among
constexpr int kStagingKeysPerLine = kFp8RowBytes / kHeadDim;     // staged V rows sharing a 128-byte line: 1 (D 128) or 2 (D 64)
constexpr int kTransposeChunks = 2;                             // 16-channel chunks one transpose unit covers (ldmatrix.x4: 2 x 2 matrices)
constexpr int kTransposeUnits = kTileKeys / kKeyGroup * (kDataChunks / kTransposeChunks);
constexpr unsigned kEvenChannelBytes = 0x6420;                  // __byte_perm selector: byte 0 and 2 of two words side by side
constexpr unsigned kOddChannelBytes = 0x7531;                   // bytes 1 and 3
static_assert(kTileKeys == kFp8RowBytes, "a V^T row holds one byte per key of a tile");
static_assert(kTileRows == kTileKeys && kTileKeys % kGatherRowsPerPass == 0 && kGatherRowsPerPass % kSwizzleRows == 0,
              "whole rows per pass, one swizzle term per thread");
static_assert(kProducerThreads == kTileKeys, "one key scale per producer thread");
static_assert(kDataChunks % kTransposeChunks == 0 && kKeyGroup == 2 * kSwizzleRows, "a transpose unit is two 8 x 8 b16 matrices of each of two chunks");
static_assert(kTileKeyBytes % kSharedAlignment == 0 && kValueTileBytes % kSharedAlignment == 0 && kStagingBytes % kSharedAlignment == 0,
              "stages keep the panels' alignment");
static_assert(kFp8Stages > kTransposeLag, "a tile's transpose needs no stage the consumers still hold");
static_assert(kSumRows == 8, "wgmma N grows in eights: one group of sum columns");
static_assert((4 + kFp8OutputRegisters) * kWarpgroupThreads * sizeof(float) <= kFp8Stages * kTileKeyBytes,
              "the split tile's softmax state fits the K stages");

// 2^x on the FMA pipe (FlashAttention-4's software exponential): x = n + f with n the nearest integer (adding 1.5 x 2^23
// rounds it into the low mantissa bits) and |f| <= 1/2; 2^f by a degree-3 minimax polynomial (relative error 7.5e-5,
// against e4m3's 2^-4 spacing of P), n added to its exponent field. x below -126 gives 2^-126 (P x 448 rounds to 0 long
// before); a NaN stays NaN, as ex2.approx keeps it.
__device__ __forceinline__ float exp2_polynomial(float x)
{
    constexpr float kRoundingShift = 12582912.f;   // 1.5 x 2^23
    constexpr float kSmallestNormalExponent = -126.f;  // below it, adding n to the exponent field would leave the normals
    constexpr float kC0 = 0.99992806f, kC1 = 0.69326097f, kC2 = 0.24261115f, kC3 = 0.05517167f;
    const float clamped = fmaxf(x, kSmallestNormalExponent);
    const float shifted = clamped + kRoundingShift;
    const float fraction = clamped - (shifted - kRoundingShift);
    const float power = fmaf(fmaf(fmaf(kC3, fraction, kC2), fraction, kC1), fraction, kC0);
    const float result = __int_as_float(__float_as_int(power) + (__float_as_int(shifted) << 23));
    return x != x ? x : result;
}

// Byte offset of 16-byte chunk 'chunk' of staged V row 'key' in a staging tile [128 keys x D]: the XOR spreads the 8
// consecutive rows an ldmatrix of the transpose reads over all 32 banks.
__device__ __forceinline__ unsigned staging_offset(int key, int chunk)
{
    return (unsigned)(key * kHeadDim + (chunk ^ (key / kStagingKeysPerLine % kDataChunks)) * 16);
}

// Copies rows token_of(r) of a [tokens x D] e4m3 source into a swizzled tile of 128-byte rows (and
// optionally the same rows into a staging tile from a second source); negative tokens zero-fill.
template <class TokenOf>
__device__ __forceinline__ void gather_fp8_rows(unsigned tile, const unsigned char* source, unsigned staging, const unsigned char* staging_source, TokenOf token_of)
{
    const int t = threadIdx.x % kProducerThreads, chunk = t % kDataChunks, first_row = t / kDataChunks;
    const unsigned swizzled = (unsigned)((chunk ^ (first_row % kSwizzleRows)) * 16);
    static_assert(kGatherRowsPerPass % (kStagingKeysPerLine * kDataChunks) == 0, "one staging swizzle term per thread");
    const unsigned staged = staging + staging_offset(first_row, chunk);
    int tokens[kTileKeys / kGatherRowsPerPass];
#pragma unroll
    for (int i = 0; i < kTileKeys / kGatherRowsPerPass; ++i) tokens[i] = token_of(first_row + i * kGatherRowsPerPass);
#pragma unroll
    for (int i = 0; i < kTileKeys / kGatherRowsPerPass; ++i)
    {
        const int row = first_row + i * kGatherRowsPerPass;
        const bool valid = tokens[i] >= 0;
        const int64 offset = (int64)max(tokens[i], 0) * kHeadDim + chunk * 16;
        copy_async_16(tile + row * kFp8RowBytes + swizzled, source + offset, valid);
        if (staging_source != nullptr) copy_async_16(staged + i * kGatherRowsPerPass * kHeadDim, staging_source + offset, valid);
    }
}

// Waits until at most 'newer' (0 .. kTransposeLag) of this thread's most recent cp.async groups are pending.
__device__ __forceinline__ void wait_copies_but(int newer)
{
    static_assert(kTransposeLag == 2, "one case per possible count");
    if (newer >= 2) copy_async_wait<2>();
    else if (newer == 1) copy_async_wait<1>();
    else copy_async_wait<0>();
}

// Transposes a landed staging tile [128 keys x D] into a V^T stage [D rows x 128 keys], each 16 keys in P's register
// order (see the header), a warp per unit of 16 keys x 32 channels. ldmatrix.trans on b16 pairs of channels gives
// lane 4 p + c keys 2c, 2c + 1 (one 8-key matrix) and 2c + 8, 2c + 9 (the next) of channels 2p, 2p + 1: two byte
// permutes make the P-ordered words of both channels, and stmatrix writes them. Lanes p >= 4 hand over their odd
// channel first, so that each stored 8-row matrix holds channels of all 8 residues mod 8 (no bank conflict in
// the swizzled stage).
__device__ __forceinline__ void transpose_values(unsigned staging, unsigned value_tile)
{
    const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x % kProducerThreads / kWarpSize;
    const int matrix = lane / kSwizzleRows, matrix_row = lane % kSwizzleRows, p = lane / 4;
    // ldmatrix row addresses: matrix m holds keys 8 (m % 2) .. + 7 of the group, chunk m / 2 of the unit's pair.
    const int load_key = matrix % 2 * kSwizzleRows + matrix_row, load_chunk = matrix / 2;
    // stmatrix row addresses: matrix m, row r is channel 16 (m / 2) + 2 r, + 1 when odd (see the selectors below).
    const bool store_odd = (matrix % 2 == 0) == (matrix_row >= 4);
    const int store_channel = load_chunk * 16 + 2 * matrix_row + (store_odd ? 1 : 0);
    const unsigned first = p < 4 ? kEvenChannelBytes : kOddChannelBytes, second = p < 4 ? kOddChannelBytes : kEvenChannelBytes;
    constexpr int kWarps = kProducerThreads / kWarpSize;
    static_assert(kTransposeUnits % kWarps == 0, "whole units per warp");
#pragma unroll
    for (int unit = warp; unit < kTransposeUnits; unit += kWarps)
    {
        const int group = unit % (kTileKeys / kKeyGroup), pair = unit / (kTileKeys / kKeyGroup);
        unsigned r[4];
        load_matrix_x4_transposed(r, staging + staging_offset(group * kKeyGroup + load_key, pair * kTransposeChunks + load_chunk));
        const unsigned w[4] = {__byte_perm(r[0], r[1], first), __byte_perm(r[0], r[1], second),
                               __byte_perm(r[2], r[3], first), __byte_perm(r[2], r[3], second)};
        const int channel = pair * kTransposeChunks * 16 + store_channel;
        store_matrix_x4(value_tile + channel * kFp8RowBytes + ((group ^ (channel % kSwizzleRows)) * 16), w);
    }
}

// The rest of one K/V tile (or of its 'Keys' = 64-key half) once S = Q K^T has been issued into 's':
// the keys' scales (per-token keys; a per-head key scale is in the row factor), the online softmax (exp2 domain), P to
// e4m3 and O += P V over V^T steps first_step .. first_step + Keys / 32 (O's last columns gather the row sums).
// In a split tile, 'exchange' (this tile's parity of the shared row-maximum buffer) gives both consumers the
// maximum over the whole 128-key tile, so P is rounded against the same running maximum as in a whole tile
// (the reference's key step); null in a whole tile.
template <int Keys, bool PerTokenKeys, bool BiasedKeys>
__device__ __forceinline__ void finish_tile_fp8(float (&s)[Keys / 2], unsigned value_tile, int first_step, const float* key_scales,
                                                const float* key_bias, int valid_keys, const PairBounds& pair, int first_column,
                                                const float (&row_factor)[2], float* exchange, int consumer,
                                                float (&row_max)[2], float (&o)[kFp8OutputRegisters])
{
    constexpr int kScoreRegisters = Keys / 2;
    constexpr int kScoreColumnTiles = Keys / 8;
    constexpr int kSteps = Keys / kFp8WgmmaK;
    const int lane = threadIdx.x % kWarpSize;
    warpgroup_wait<0>();
    fence_registers(s);
    if constexpr (PerTokenKeys)
#pragma unroll
        for (int j = 0; j < kScoreColumnTiles; ++j)
        {
            const float2 scale = *(const float2*)(key_scales + j * 8 + 2 * (lane % 4));
#pragma unroll
            for (int e = 0; e < 4; ++e) s[4 * j + e] *= (e & 1) ? scale.y : scale.x;
        }
    // Only the last tile of a row's key sequence can be partial. In a pair tile a row also masks the keys its cluster
    // did not select (after the key scales: a masked key's scale may be 0).
    if (valid_keys < Keys)
#pragma unroll
        for (int i = 0; i < kScoreRegisters; ++i) mask_score(s[i], (i / 4) * 8 + 2 * (lane % 4) + (i & 1), valid_keys);
    pair.mask<Keys>(s, first_column);
    // The row factor (q's scale x scale x log2 e, positive) is applied inside the exponent; the maximum is taken
    // before it and scaled once. With Q smoothing's key bias (already x scale x log2 e) the logits are complete
    // (s x row factor + bias) before the maximum, and the exponent only subtracts it.
    if constexpr (BiasedKeys)
#pragma unroll
        for (int j = 0; j < kScoreColumnTiles; ++j)
        {
            const float2 bias = *(const float2*)(key_bias + j * 8 + 2 * (lane % 4));
#pragma unroll
            for (int e = 0; e < 4; ++e) s[4 * j + e] = fmaf(s[4 * j + e], row_factor[e / 2], (e & 1) ? bias.y : bias.x);
        }
    float tile_max[2];
#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        tile_max[r] = negative_infinity();
#pragma unroll
        for (int j = 0; j < kScoreColumnTiles; ++j) tile_max[r] = fmaxf(tile_max[r], fmaxf(s[4 * j + 2 * r], s[4 * j + 2 * r + 1]));
        tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(kFullMask, tile_max[r], 1));
        tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(kFullMask, tile_max[r], 2));
        if (!BiasedKeys && tile_max[r] != negative_infinity()) tile_max[r] *= row_factor[r];
    }
    if (exchange != nullptr)
    {
        const int first = (threadIdx.x % kWarpgroupThreads) / kWarpSize * 16 + lane / 4;
        if (lane % 4 == 0)
#pragma unroll
            for (int r = 0; r < 2; ++r) exchange[consumer * kWarpgroupRows + first + 8 * r] = tile_max[r];
        named_barrier_sync(kConsumerBarrier, kConsumerThreads);
#pragma unroll
        for (int r = 0; r < 2; ++r) tile_max[r] = fmaxf(tile_max[r], exchange[(1 - consumer) * kWarpgroupRows + first + 8 * r]);
    }
    // P x 448 straight from the exponent: the maximum lowered by log2(448).
    const float log2_probability_scale = log2f(kProbabilityScale);
    float correction[2];
#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        const float new_max = fmaxf(row_max[r], tile_max[r]);
        const float base = new_max == negative_infinity() ? 0.f : new_max;
        correction[r] = fast_exp2(row_max[r] - base);
        row_max[r] = new_max;
        const float shifted = base - log2_probability_scale;
#pragma unroll
        for (int j = 0; j < kScoreColumnTiles; ++j)
        {
            // Every kSoftwareExpPeriod-th column tile's exponentials run on the FMA pipe: a tile's 64 ex2 a thread
            // otherwise queue on the exponential unit (Nsight Compute: a quarter of the consumers' samples).
            const bool software = j % kSoftwareExpPeriod == kSoftwareExpPeriod - 1;
#pragma unroll
            for (int e = 0; e < 2; ++e)
            {
                const int i = 4 * j + 2 * r + e;
                const float exponent = BiasedKeys ? s[i] - shifted : fmaf(s[i], row_factor[r], -shifted);
                s[i] = software ? exp2_polynomial(exponent) : fast_exp2(exponent);
            }
        }
    }
    // Step k covers the accumulator's 8-column tiles 4k .. 4k + 3; register e of A takes row g (e even) or
    // g + 8 (e odd) from tiles 4k + 2 (e / 2) and 4k + 2 (e / 2) + 1, whose columns the V^T order matches.
    unsigned p[kSteps][4];
#pragma unroll
    for (int step = 0; step < kSteps; ++step)
#pragma unroll
        for (int e = 0; e < 4; ++e)
        {
            const int low = 4 * (4 * step + 2 * (e / 2)) + 2 * (e % 2), high = low + 4;
            p[step][e] = e4m3_quad(s[low], s[low + 1], s[high], s[high + 1]);
        }
    float product[kFp8OutputRegisters];
#pragma unroll
    for (int step = 0; step < kSteps; ++step) fence_registers(p[step]);
    fence_registers(product);
    warpgroup_fence();
#pragma unroll
    for (int step = 0; step < kSteps; ++step)
        wgmma_fp8_registers<kValueRows>(product, p[step], fp8_k_major_descriptor(value_tile, first_step + step), step > 0);
    warpgroup_commit();
    warpgroup_wait<0>();
    fence_registers(product);
    // The outer level: O (and its row sums) rescaled to the new maximum and the tile's product added, one fused
    // multiply-add each.
#pragma unroll
    for (int d = 0; d < kFp8OutputColumnTiles; ++d)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[4 * d + e] = fmaf(o[4 * d + e], correction[e / 2], product[4 * d + e]);
}

// The kernel body; PerTokenKeys: key_scales is [G, nk] (one per key, a multiply per logit), else [G] (one per head,
// folded into each row's factor). BiasedKeys: key_bias [G, nk] is Q smoothing's q-mean . k per key (unscaled), added
// to every logit; else null.
template <bool PerTokenKeys, bool BiasedKeys>
__device__ __forceinline__ void sparse_attention_fp8(const unsigned char* __restrict__ q, const unsigned char* __restrict__ k, const unsigned char* __restrict__ v,
                                                     const float* __restrict__ query_scales, const float* __restrict__ key_scales,
                                                     const float* __restrict__ key_bias,
                                                     const float* __restrict__ value_scales, element_t* __restrict__ out,
                                                     const int64* __restrict__ query_permutation, const int64* __restrict__ query_offsets,
                                                     const int64* __restrict__ key_permutation, const int* __restrict__ range_start,
                                                     const int* __restrict__ range_end, const int* __restrict__ range_count, const int* __restrict__ order,
                                                     const int* __restrict__ tile_start, int nq, int nk, int qc, int kc, float scale_log2,
                                                     const int* __restrict__ partner, const int* __restrict__ pair_slot,
                                                     const int* __restrict__ pair_range_start, const int* __restrict__ pair_range_end,
                                                     const int* __restrict__ pair_range_count, const int* __restrict__ pair_bounds, int pair_capacity)
{
    extern __shared__ unsigned char attention_shared[];
    const int g = blockIdx.y, work = blockIdx.x;
    QueryTile query;
    if (!locate_query_tile(query, work, g, qc, kTileRows, order, tile_start, query_offsets, partner, pair_slot)) return;

    const unsigned base = aligned_shared_base(attention_shared);
    unsigned char* generic_base = attention_shared + (base - shared_address(attention_shared));
    const unsigned q_tile = base;
    const unsigned k_tiles = q_tile + kTileQueryBytes;
    const unsigned value_tiles = k_tiles + kFp8Stages * kTileKeyBytes;
    unsigned char* value_tiles_generic = generic_base + (value_tiles - base);
    const unsigned staging = value_tiles + kFp8Stages * kValueTileBytes;
    float* tile_key_scales = (float*)(generic_base + (staging - base) + kStagingSlots * kStagingBytes);   // [kFp8Stages][kTileKeys]
    float* tile_key_bias = tile_key_scales + kFp8Stages * kTileKeys;   // [kFp8Stages][kTileKeys], x scale x log2 e
    float* exchange = tile_key_bias + kFp8Stages * kTileKeys;   // [kExchangeParities][2 consumers][64 rows]
    unsigned char* barriers = (unsigned char*)(exchange + kExchangeParities * kConsumerWarpgroups * kWarpgroupRows);
    const unsigned full = shared_address(barriers);                  // [kFp8Stages]: K and staged V landed (producer copies)
    const unsigned values_full = full + kFp8Stages * kBarrierBytes;  // [kFp8Stages]: V^T and key scales written
    const unsigned empty = values_full + kFp8Stages * kBarrierBytes; // [kFp8Stages]: tile read (consumer threads)
    const unsigned query_full = empty + kFp8Stages * kBarrierBytes;
    int* tokens = (int*)(barriers + (3 * kFp8Stages + 1) * kBarrierBytes);   // [kTokenSlots][kTileKeys]
    int* starts = tokens + kTokenSlots * kTileKeys;              // [kc]
    int* ends = starts + kc;                                     // [kc]

    const int tid = threadIdx.x, lane = tid % kWarpSize;
    const int warpgroup = tid / kWarpgroupThreads, warp_in_group = (tid % kWarpgroupThreads) / kWarpSize;
    if (tid == 0)
    {
        barrier_init_row(full, kFp8Stages, kProducerThreads);
        barrier_init_row(values_full, kFp8Stages, kProducerThreads);
        barrier_init_row(empty, kFp8Stages, kConsumerThreads);
        barrier_init(query_full, kProducerThreads);
        barrier_init_fence();
    }
    // The ones rows of every V^T stage, written once (the transposes write only the channel rows); wgmma reads
    // them through the async proxy.
    for (int i = tid; i < kFp8Stages * kSumRows * kFp8RowBytes / 16; i += kTileThreads)
    {
        const int stage = i / (kSumRows * kFp8RowBytes / 16), chunk = i % (kSumRows * kFp8RowBytes / 16);
        *(uint4*)(value_tiles_generic + stage * kValueTileBytes + kHeadDim * kFp8RowBytes + chunk * 16) =
            make_uint4(kE4M3OnesWord, kE4M3OnesWord, kE4M3OnesWord, kE4M3OnesWord);
    }
    fence_async_shared();
    const int64 pair = (int64)g * qc + query.cluster;
    const int64 pair_list = (int64)g * pair_capacity + query.slot;
    const int ranges = query.slot >= 0 ? load_key_ranges(starts, ends, pair_list, kc, pair_range_start, pair_range_end, pair_range_count, kTileThreads)
                                       : load_key_ranges(starts, ends, pair, kc, range_start, range_end, range_count, kTileThreads);
    __syncthreads();
    const int total_keys = ranges > 0 ? ends[ranges - 1] : 0;
    const int key_tiles = (total_keys + kTileKeys - 1) / kTileKeys;
    const int64* group_query_permutation = query_permutation + (int64)g * nq;

    if (warpgroup == 0)
    {
        // Producer: Q once; per tile the tokens, the K and V gathers into a free stage and the key scales;
        // one tile behind, the transpose of the staged V once this thread's copies of it have landed.
        release_registers<kProducerRegisters>();
        gather_fp8_rows(q_tile, q + (int64)g * nq * kHeadDim, 0, nullptr,
                        [&](int row) { const int64 at = query.permuted_row(row); return at >= 0 ? (int)group_query_permutation[at] : -1; });
        copy_async_commit();
        barrier_arrive_after_copies(query_full);
        const unsigned char* group_keys = k + (int64)g * nk * kHeadDim;
        const unsigned char* group_values = v + (int64)g * nk * kHeadDim;
        const float* group_key_scales = PerTokenKeys ? key_scales + (int64)g * nk : nullptr;
        const float* group_key_bias = BiasedKeys ? key_bias + (int64)g * nk : nullptr;
        const int64* group_key_permutation = key_permutation + (int64)g * nk;
        int cursor = 0;
        // Row tid's token, key scale and key bias of the next tile, looked up a tile ahead: their dependent global
        // loads are in flight during the transpose instead of holding up the tile's gathers.
        const auto look_up = [&](int j, int& token, float& key_scale, float& bias)
        {
            token = key_token(j * kTileKeys + tid, total_keys, starts, ends, cursor, group_key_permutation);
            if constexpr (PerTokenKeys) key_scale = token >= 0 ? group_key_scales[token] : 0.f;
            if constexpr (BiasedKeys) bias = token >= 0 ? group_key_bias[token] * scale_log2 : 0.f;
        };
        int token = -1;
        float key_scale = 0.f, bias = 0.f;
        if (key_tiles > 0) look_up(0, token, key_scale, bias);
        for (int j = 0; j < key_tiles + kTransposeLag; ++j)
        {
            if (j < key_tiles)
            {
                const int stage = j % kFp8Stages;
                int* tile_tokens = tokens + (j % kTokenSlots) * kTileKeys;
                tile_tokens[tid] = token;
                named_barrier_sync(kProducerBarrier, kProducerThreads);
                if (j >= kFp8Stages) barrier_wait(empty + stage * kBarrierBytes, (j / kFp8Stages - 1) & 1);
                if constexpr (PerTokenKeys) tile_key_scales[stage * kTileKeys + tid] = key_scale;
                if constexpr (BiasedKeys) tile_key_bias[stage * kTileKeys + tid] = bias;
                gather_fp8_rows(k_tiles + stage * kTileKeyBytes, group_keys, staging + (j % kStagingSlots) * kStagingBytes, group_values,
                                [&](int row) { return tile_tokens[row]; });
                copy_async_commit();
                barrier_arrive_after_copies(full + stage * kBarrierBytes);
                if (j + 1 < key_tiles) look_up(j + 1, token, key_scale, bias);
            }
            const int t = j - kTransposeLag;
            if (t >= 0)
            {
                // Tile t's V rows, once every producer thread's copies of them have landed; the copies of the tiles
                // gathered after it may still be in flight.
                wait_copies_but(min(j, key_tiles - 1) - t);
                named_barrier_sync(kProducerBarrier, kProducerThreads);
                transpose_values(staging + (t % kStagingSlots) * kStagingBytes, value_tiles + (t % kFp8Stages) * kValueTileBytes);
                // wgmma reads V^T through the async proxy.
                fence_async_shared();
                barrier_arrive(values_full + (t % kFp8Stages) * kBarrierBytes);
            }
        }
        return;
    }

    // Consumers: as in attention_hopper.cu, warpgroup c owns query rows 64 c .. 64 c + 63 of the tile, or,
    // in a split tile, the tile's rows with keys 64 c .. 64 c + 63 of every K/V tile.
    claim_registers<kConsumerRegisters>();
    const int consumer = warpgroup - 1;
    const bool split = query.total_rows() <= kWarpgroupRows;
    const int first_row = (split ? 0 : consumer) * kWarpgroupRows;
    const unsigned q_slice = q_tile + first_row * kFp8RowBytes;
    float row_factor[2];
    const float head_factor = (PerTokenKeys ? 1.f : key_scales[g]) * scale_log2;
#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        const int row = first_row + warp_in_group * 16 + lane / 4 + r * 8;
        // A row past the tile's rows is never stored; any positive factor keeps its arithmetic finite.
        row_factor[r] = (row < query.total_rows() ? query_scales[(int64)g * nq + group_query_permutation[query.permuted_row(row)]] : 1.f) * head_factor;
    }
    float o[kFp8OutputRegisters];
#pragma unroll
    for (int i = 0; i < kFp8OutputRegisters; ++i) o[i] = 0.f;
    float row_max[2] = {negative_infinity(), negative_infinity()};
    const PairBounds pair_bounds_of_tile = PairBounds::of(pair_bounds, pair_list, query.slot, query.rows);
    barrier_wait(query_full, 0);
    for (int j = 0; j < key_tiles; ++j)
    {
        const int stage = j % kFp8Stages, parity = (j / kFp8Stages) & 1;
        barrier_wait(full + stage * kBarrierBytes, parity);
        fence_async_shared();
        const unsigned k_stage = k_tiles + stage * kTileKeyBytes, value_stage = value_tiles + stage * kValueTileBytes;
        const float* scales = tile_key_scales + stage * kTileKeys;
        const float* biases = tile_key_bias + stage * kTileKeys;
        const int valid_keys = total_keys - j * kTileKeys;
        if (!split)
        {
            float scores[kTileKeys / 2];
            wgmma_fp8_rows_by_rows<kTileKeys, kQuerySteps>(scores, q_slice, k_stage);
            barrier_wait(values_full + stage * kBarrierBytes, parity);
            finish_tile_fp8<kTileKeys, PerTokenKeys, BiasedKeys>(scores, value_stage, 0, scales, biases, valid_keys, pair_bounds_of_tile, j * kTileKeys,
                                                                 row_factor, nullptr, consumer, row_max, o);
        }
        else
        {
            // Both halves take part in every tile (the maximum exchange), a half past the keys with every score masked.
            float scores[kHalfTileKeys / 2];
            wgmma_fp8_rows_by_rows<kHalfTileKeys, kQuerySteps>(scores, q_slice, k_stage + consumer * kHalfTileKeys * kFp8RowBytes);
            barrier_wait(values_full + stage * kBarrierBytes, parity);
            finish_tile_fp8<kHalfTileKeys, PerTokenKeys, BiasedKeys>(scores, value_stage, consumer * kHalfValueSteps, scales + consumer * kHalfTileKeys,
                                           biases + consumer * kHalfTileKeys, valid_keys - consumer * kHalfTileKeys, pair_bounds_of_tile,
                                           j * kTileKeys + consumer * kHalfTileKeys, row_factor,
                                           exchange + (j % kExchangeParities) * kConsumerWarpgroups * kWarpgroupRows, consumer, row_max, o);
        }
        barrier_arrive(empty + stage * kBarrierBytes);
    }
    // The row sums travel as O's last columns; the merge's separate sums stay zero.
    float no_sums[2] = {0.f, 0.f};
    if (split && !merge_split_tile((float*)(generic_base + (k_tiles - base)), consumer, row_max, no_sums, o)) return;

    float2 channel_scale[kOutputColumnTiles];
#pragma unroll
    for (int d = 0; d < kOutputColumnTiles; ++d) channel_scale[d] = *(const float2*)(value_scales + (int64)g * kHeadDim + d * 8 + 2 * (lane % 4));
#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        // Column D of the row: the whole row's sum of the rounded P x 448 (every thread holds it).
        const float sum = o[4 * kOutputColumnTiles + 2 * r];
        const float factor = sum > 0.f ? 1.f / sum : 0.f;
        const int row = first_row + warp_in_group * 16 + lane / 4 + r * 8;
        if (row >= query.total_rows()) continue;
        const int64 token = group_query_permutation[query.permuted_row(row)];
        element_t* destination = out + ((int64)g * nq + token) * kHeadDim + 2 * (lane % 4);
#pragma unroll
        for (int d = 0; d < kOutputColumnTiles; ++d)
            *(unsigned*)(destination + d * 8) = pack_elements(o[4 * d + 2 * r] * channel_scale[d].x * factor, o[4 * d + 2 * r + 1] * channel_scale[d].y * factor);
    }
}

#define SVG2_FP8_ATTENTION_PARAMETERS                                                                                          \
    const unsigned char* __restrict__ q, const unsigned char* __restrict__ k, const unsigned char* __restrict__ v,             \
        const float* __restrict__ query_scales, const float* __restrict__ key_scales, const float* __restrict__ key_bias,     \
        const float* __restrict__ value_scales,                                                                               \
        element_t* __restrict__ out, const int64* __restrict__ query_permutation, const int64* __restrict__ query_offsets,   \
        const int64* __restrict__ key_permutation, const int* __restrict__ range_start, const int* __restrict__ range_end,   \
        const int* __restrict__ range_count, const int* __restrict__ order, const int* __restrict__ tile_start, int nq, int nk, \
        int qc, int kc, float scale_log2, const int* __restrict__ partner, const int* __restrict__ pair_slot,                 \
        const int* __restrict__ pair_range_start, const int* __restrict__ pair_range_end,                                     \
        const int* __restrict__ pair_range_count, const int* __restrict__ pair_bounds, int pair_capacity
#define SVG2_FP8_ATTENTION_ARGUMENTS                                                                                         \
    q, k, v, query_scales, key_scales, key_bias, value_scales, out, query_permutation, query_offsets, key_permutation, range_start, range_end, \
        range_count, order, tile_start, nq, nk, qc, kc, scale_log2, partner, pair_slot, pair_range_start, pair_range_end,           \
        pair_range_count, pair_bounds, pair_capacity

// Per-token K scales: key_scales [G, nk]; key_bias null.
extern "C" __global__ void __launch_bounds__(kTileThreads, 1) svg2_sparse_attention_hopper_fp8(SVG2_FP8_ATTENTION_PARAMETERS)
{
    sparse_attention_fp8<true, false>(SVG2_FP8_ATTENTION_ARGUMENTS);
}

// Per-head K scales: key_scales [G]; key_bias null.
extern "C" __global__ void __launch_bounds__(kTileThreads, 1) svg2_sparse_attention_hopper_fp8_head_keys(SVG2_FP8_ATTENTION_PARAMETERS)
{
    sparse_attention_fp8<false, false>(SVG2_FP8_ATTENTION_ARGUMENTS);
}

// Per-token K scales and Q smoothing's key bias [G, nk].
extern "C" __global__ void __launch_bounds__(kTileThreads, 1) svg2_sparse_attention_hopper_fp8_smooth_queries(SVG2_FP8_ATTENTION_PARAMETERS)
{
    sparse_attention_fp8<true, true>(SVG2_FP8_ATTENTION_ARGUMENTS);
}

// Per-head K scales and Q smoothing's key bias [G, nk].
extern "C" __global__ void __launch_bounds__(kTileThreads, 1) svg2_sparse_attention_hopper_fp8_head_keys_smooth_queries(SVG2_FP8_ATTENTION_PARAMETERS)
{
    sparse_attention_fp8<false, true>(SVG2_FP8_ATTENTION_ARGUMENTS);
}
#undef SVG2_FP8_ATTENTION_PARAMETERS
#undef SVG2_FP8_ATTENTION_ARGUMENTS
