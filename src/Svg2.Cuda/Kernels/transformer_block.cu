// Fused memory-bound kernels of the Wan transformer block, "fast" numerics: the residual stream
// stays in element_t (bf16 or fp16), every statistic and product is computed in float32, and each
// output element is rounded once, at its store. All tensors are dense row-major; every row of W
// elements is moved as W / 8 16-byte vectors (W is a multiple of 8 and every base address is
// 16-byte aligned: the host checks both).
//
// Row kernels (svg2_modulated_layer_norm, svg2_rms_norm_to_heads): one block per token row. The
//   host picks T = 32 * ceil(V / (32 * kRowVectorsPerThread)) threads for the row's V = W / 8
//   vectors (T <= kMaxRowThreads, so W <= 8 x kMaxRowThreads x kRowVectorsPerThread = 8192); thread t
//   owns vectors t, t + T, ... (at most kRowVectorsPerThread of them, 32 floats, held in registers), so consecutive threads
//   touch consecutive 16 bytes and the row is read from global memory exactly once. Statistics are
//   block sums: warp shuffles, then one float per warp through shared memory.
//   - svg2_modulated_layer_norm: out = ((x - mean) * rsqrt(var + eps) * weight + bias) * (1 + scale[b])
//     + shift[b], b = row / rows_per_batch. Mean and (biased) variance are two passes over the
//     registers, which avoids the cancellation of E[x^2] - E[x]^2 on rows with a large mean.
//   - svg2_rms_norm_to_heads: y = x * rsqrt(mean(x^2) + eps) * weight over the full row (all heads),
//     then optionally each head's interleaved pairs (2j, 2j + 1) rotated by (cos, sin)[s, j] (3D
//     RoPE), stored to [B, H, S, D]: a head's D elements are contiguous there, so the D / 8 threads
//     of one head store one contiguous run of 2D bytes.
//   Traffic per row: 2W bytes read, 2W bytes written (fp16/bf16), plus the float32 parameter rows
//   (weight, bias, shift, scale: W floats each; cos, sin: D / 2 floats each), which every row of a
//   batch element shares and L2 serves.
// svg2_gated_residual_add: x = x + y * gate[b] in place. Grid (blocks, B); each block strides over
//   the S * W / 8 vectors of batch element b with kResidualUnroll vectors in flight per thread (all
//   loads issued before the first use, for memory-level parallelism). Traffic per element: 2 + 2
//   bytes read, 2 bytes written (the float32 gate row of W floats is shared and L2-resident).
#include "common.cuh"

#ifndef SVG2_ROW_VECTORS_PER_THREAD
#error "SVG2_ROW_VECTORS_PER_THREAD must be defined (TransformerBlockTraits)"
#endif
#ifndef SVG2_ROW_MAX_THREADS
#error "SVG2_ROW_MAX_THREADS must be defined (TransformerBlockTraits)"
#endif
#ifndef SVG2_RESIDUAL_THREADS
#error "SVG2_RESIDUAL_THREADS must be defined (TransformerBlockTraits)"
#endif
#ifndef SVG2_RESIDUAL_UNROLL
#error "SVG2_RESIDUAL_UNROLL must be defined (TransformerBlockTraits)"
#endif

constexpr int kVectorElements = kChunkElements;          // elements in one 16-byte vector
constexpr int kVectorWords = kVectorElements / 2;        // 32-bit words of packed element pairs
constexpr int kRowVectorsPerThread = SVG2_ROW_VECTORS_PER_THREAD;   // register budget: 32 floats of the row per thread
constexpr int kMaxRowThreads = SVG2_ROW_MAX_THREADS;
constexpr int kMaxRowWarps = kMaxRowThreads / kWarpSize;
constexpr int kResidualThreads = SVG2_RESIDUAL_THREADS;
constexpr int kResidualUnroll = SVG2_RESIDUAL_UNROLL;
constexpr int kHalfHeadDim = kHeadDim / 2;               // rotation pairs per head (cos/sin row length)
constexpr unsigned kLowHalf = 0xffffu;
constexpr int kHalfBits = 16;

static_assert(kHeadDim % kVectorElements == 0, "a vector never straddles two heads");

__device__ __forceinline__ void unpack_vector(uint4 bits, float (&values)[kVectorElements])
{
    const unsigned words[kVectorWords] = {bits.x, bits.y, bits.z, bits.w};
#pragma unroll
    for (int i = 0; i < kVectorWords; ++i)
    {
        values[2 * i] = element_to_float((element_t)(words[i] & kLowHalf));
        values[2 * i + 1] = element_to_float((element_t)(words[i] >> kHalfBits));
    }
}

__device__ __forceinline__ uint4 pack_vector(const float (&values)[kVectorElements])
{
    uint4 bits = {pack_elements(values[0], values[1]), pack_elements(values[2], values[3]),
                  pack_elements(values[4], values[5]), pack_elements(values[6], values[7])};
    return bits;
}

__device__ __forceinline__ void load_elements(const element_t* source, float (&values)[kVectorElements])
{
    unpack_vector(*(const uint4*)source, values);
}

__device__ __forceinline__ void store_elements(element_t* destination, const float (&values)[kVectorElements])
{
    *(uint4*)destination = pack_vector(values);
}

// Eight consecutive floats as two 16-byte loads.
__device__ __forceinline__ void load_floats(const float* source, float (&values)[kVectorElements])
{
    const float4 low = *(const float4*)source, high = *(const float4*)(source + 4);
    values[0] = low.x; values[1] = low.y; values[2] = low.z; values[3] = low.w;
    values[4] = high.x; values[5] = high.y; values[6] = high.z; values[7] = high.w;
}

// Eight floats from an optional row: 'fallback' everywhere when the row is absent.
__device__ __forceinline__ void load_floats_or(const float* source, float fallback, float (&values)[kVectorElements])
{
    if (source != nullptr) { load_floats(source, values); return; }
#pragma unroll
    for (int e = 0; e < kVectorElements; ++e) values[e] = fallback;
}

// The sum of 'value' over the block (blockDim.x a multiple of 32, at most kMaxRowThreads), returned
// to every thread. Each thread adds the warp partials in the same order, so all get the same bits.
// 'partials' must not be reused by a later call without a barrier between: callers pass a fresh array.
__device__ __forceinline__ float block_sum(float value, float (&partials)[kMaxRowWarps])
{
    value = warp_sum(value);
    const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
    if (lane == 0) partials[warp] = value;
    __syncthreads();
    float total = 0.f;
    const int warps = blockDim.x / kWarpSize;
    for (int w = 0; w < warps; ++w) total += partials[w];
    return total;
}

// Loads this thread's vectors of one row (zeros where a slot is past the row end) and returns their sum
// of elements (squares when 'squares' is set).
__device__ __forceinline__ float load_row(const element_t* row, int vectors, float (&values)[kRowVectorsPerThread][kVectorElements], bool squares)
{
    float sum = 0.f;
#pragma unroll
    for (int i = 0; i < kRowVectorsPerThread; ++i)
    {
        const int vector = (int)(threadIdx.x + i * blockDim.x);
        if (vector < vectors)
        {
            load_elements(row + (int64)vector * kVectorElements, values[i]);
#pragma unroll
            for (int e = 0; e < kVectorElements; ++e) sum += squares ? values[i][e] * values[i][e] : values[i][e];
        }
        else
        {
#pragma unroll
            for (int e = 0; e < kVectorElements; ++e) values[i][e] = 0.f;
        }
    }
    return sum;
}

// x, out: [rows, width]; weight, bias: [width] or null (1, 0); shift, scale: [rows / rows_per_batch, width]
// or both null (no modulation). Grid (rows), the host's row block size. x and out carry no __restrict__:
// out may be x itself (each block reads its whole row into registers before it writes any of it).
extern "C" __global__ void __launch_bounds__(kMaxRowThreads)
svg2_modulated_layer_norm(const element_t* x, element_t* out, const float* __restrict__ weight,
                          const float* __restrict__ bias, const float* __restrict__ shift, const float* __restrict__ scale,
                          int width, int rows_per_batch, float eps)
{
    __shared__ float mean_partials[kMaxRowWarps];
    __shared__ float variance_partials[kMaxRowWarps];
    const int64 row = blockIdx.x;
    const int vectors = width / kVectorElements;
    const float inverse_width = 1.f / (float)width;

    float values[kRowVectorsPerThread][kVectorElements];
    const float mean = block_sum(load_row(x + row * width, vectors, values, false), mean_partials) * inverse_width;

    float deviations = 0.f;
#pragma unroll
    for (int i = 0; i < kRowVectorsPerThread; ++i)
        if ((int)(threadIdx.x + i * blockDim.x) < vectors)
#pragma unroll
            for (int e = 0; e < kVectorElements; ++e)
            {
                const float d = values[i][e] - mean;
                deviations += d * d;
            }
    // A separate partials array: threads may still be reading mean_partials.
    const float inverse_deviation = rsqrtf(block_sum(deviations, variance_partials) * inverse_width + eps);

    const bool modulated = shift != nullptr;
    const int64 modulation_row = (row / rows_per_batch) * width;
    element_t* destination = out + row * width;
#pragma unroll
    for (int i = 0; i < kRowVectorsPerThread; ++i)
    {
        const int vector = (int)(threadIdx.x + i * blockDim.x);
        if (vector >= vectors) continue;
        const int column = vector * kVectorElements;
        float gain[kVectorElements], offset[kVectorElements], result[kVectorElements];
        load_floats_or(weight != nullptr ? weight + column : nullptr, 1.f, gain);
        load_floats_or(bias != nullptr ? bias + column : nullptr, 0.f, offset);
#pragma unroll
        for (int e = 0; e < kVectorElements; ++e) result[e] = (values[i][e] - mean) * inverse_deviation * gain[e] + offset[e];
        if (modulated)
        {
            float shifts[kVectorElements], scales[kVectorElements];
            load_floats(shift + modulation_row + column, shifts);
            load_floats(scale + modulation_row + column, scales);
#pragma unroll
            for (int e = 0; e < kVectorElements; ++e) result[e] = result[e] * (1.f + scales[e]) + shifts[e];
        }
        store_elements(destination + column, result);
    }
}

// x, y: [B, batch_vectors * 8]; gate: [B, width] or null (1). x is updated in place. Grid (blocks, B),
// kResidualThreads threads. batch_vectors < 2^31 (host check), so unsigned indices cannot wrap.
extern "C" __global__ void __launch_bounds__(kResidualThreads)
svg2_gated_residual_add(element_t* __restrict__ x, const element_t* __restrict__ y, const float* __restrict__ gate,
                        int batch_vectors, int width)
{
    const int64 batch_offset = (int64)blockIdx.y * batch_vectors * kVectorElements;
    element_t* xs = x + batch_offset;
    const element_t* ys = y + batch_offset;
    const float* gate_row = gate != nullptr ? gate + (int64)blockIdx.y * width : nullptr;
    const unsigned row_vectors = (unsigned)(width / kVectorElements);
    const unsigned stride = gridDim.x * blockDim.x;
    const unsigned count = (unsigned)batch_vectors;
    for (unsigned first = blockIdx.x * blockDim.x + threadIdx.x; first < count; first += stride * kResidualUnroll)
    {
        uint4 residual[kResidualUnroll], update[kResidualUnroll];
#pragma unroll
        for (int u = 0; u < kResidualUnroll; ++u)
        {
            const unsigned vector = first + u * stride;
            if (vector < count)
            {
                residual[u] = *(const uint4*)(xs + (int64)vector * kVectorElements);
                update[u] = *(const uint4*)(ys + (int64)vector * kVectorElements);
            }
        }
#pragma unroll
        for (int u = 0; u < kResidualUnroll; ++u)
        {
            const unsigned vector = first + u * stride;
            if (vector >= count) continue;
            float a[kVectorElements], b[kVectorElements], g[kVectorElements];
            unpack_vector(residual[u], a);
            unpack_vector(update[u], b);
            load_floats_or(gate_row != nullptr ? gate_row + (vector % row_vectors) * kVectorElements : nullptr, 1.f, g);
#pragma unroll
            for (int e = 0; e < kVectorElements; ++e) a[e] += b[e] * g[e];
            *(uint4*)(xs + (int64)vector * kVectorElements) = pack_vector(a);
        }
    }
}

// x: [B, tokens, width], width = heads * kHeadDim; weight: [width]; cos_table, sin_table: [tokens, kHeadDim / 2]
// or both null (no rotation); out: [B, heads, tokens, kHeadDim]. Grid (B * tokens), the host's row block size.
extern "C" __global__ void __launch_bounds__(kMaxRowThreads)
svg2_rms_norm_to_heads(const element_t* __restrict__ x, const float* __restrict__ weight, const float* __restrict__ cos_table,
                       const float* __restrict__ sin_table, element_t* __restrict__ out, int tokens, int width, float eps)
{
    __shared__ float square_partials[kMaxRowWarps];
    const int64 row = blockIdx.x;
    const int64 batch = row / tokens;
    const int token = (int)(row - batch * tokens);
    const int vectors = width / kVectorElements;
    const int heads = width / kHeadDim;

    float values[kRowVectorsPerThread][kVectorElements];
    const float squares = block_sum(load_row(x + row * width, vectors, values, true), square_partials);
    const float inverse_rms = rsqrtf(squares / (float)width + eps);

    const bool rotated = cos_table != nullptr;
#pragma unroll
    for (int i = 0; i < kRowVectorsPerThread; ++i)
    {
        const int vector = (int)(threadIdx.x + i * blockDim.x);
        if (vector >= vectors) continue;
        const int column = vector * kVectorElements;
        const int head = column / kHeadDim, within = column % kHeadDim;
        float gain[kVectorElements], result[kVectorElements];
        load_floats(weight + column, gain);
#pragma unroll
        for (int e = 0; e < kVectorElements; ++e) result[e] = values[i][e] * inverse_rms * gain[e];
        if (rotated)
        {
            // The vector's 4 pairs are pairs within / 2 .. within / 2 + 3 of the head: one float4 of each
            // table (16-byte aligned: within / 2 is a multiple of 4 and rows are kHeadDim / 2 floats).
            const int64 pair = (int64)token * kHalfHeadDim + within / 2;
            const float4 c = *(const float4*)(cos_table + pair), s = *(const float4*)(sin_table + pair);
            const float cosines[kVectorWords] = {c.x, c.y, c.z, c.w}, sines[kVectorWords] = {s.x, s.y, s.z, s.w};
#pragma unroll
            for (int j = 0; j < kVectorWords; ++j)
            {
                const float real = result[2 * j], imaginary = result[2 * j + 1];
                result[2 * j] = real * cosines[j] - imaginary * sines[j];
                result[2 * j + 1] = real * sines[j] + imaginary * cosines[j];
            }
        }
        store_elements(out + ((batch * heads + head) * tokens + token) * kHeadDim + within, result);
    }
}
