// Shared definitions of the SVG2 kernels. No CUDA headers are included: element types are raw
// 16-bit patterns (bf16 or fp16, chosen by SVG2_ELEMENT_FP16) converted with PTX, and the warp
// matrix instructions (ldmatrix, mma.sync m16n8k16, cp.async) are written as inline PTX.
// SVG2_HEAD_DIM (64 or 128) is a compile-time constant.
// Every shape the host also needs (threads, tile sizes, shared-memory layout) is an NVRTC macro that
// the host's kernel traits (Svg2.Cuda.Traits) define; a missing one is a compile error, never a default.
#pragma once

#ifndef SVG2_HEAD_DIM
#error "SVG2_HEAD_DIM must be defined (64 or 128)"
#endif
#ifndef SVG2_ELEMENT_FP16
#error "SVG2_ELEMENT_FP16 must be defined (1 for fp16, 0 for bf16)"
#endif

typedef unsigned short element_t;   // raw bf16 or fp16 bits
typedef long long int64;

constexpr int kHeadDim = SVG2_HEAD_DIM;
constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kChunkElements = 8;                        // one 16-byte chunk holds 8 elements
constexpr int kRowChunks = kHeadDim / kChunkElements;    // 16-byte chunks per head-dim row
constexpr int kRowBytes = kHeadDim * 2;
constexpr int kSwizzleRows = 8;                          // XOR pattern period of the shared tiles

__device__ __forceinline__ float negative_infinity() { return __int_as_float(0xff800000); }

// True for NaN only: the one value unequal to itself (the kernels compile without fast-math flags, so
// the comparison is kept).
__device__ __forceinline__ bool is_nan(float x) { return x != x; }
__device__ __forceinline__ bool is_nan(double x) { return x != x; }

__device__ __forceinline__ float element_to_float(element_t x)
{
#if SVG2_ELEMENT_FP16
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x));
    return f;
#else
    return __uint_as_float(((unsigned)x) << 16);
#endif
}

__device__ __forceinline__ element_t float_to_element(float f)
{
    element_t r;
#if SVG2_ELEMENT_FP16
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(f));
#else
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(f));
#endif
    return r;
}

// Two floats to a packed pair; 'low' lands in the lower 16 bits (the lower column of an MMA fragment).
__device__ __forceinline__ unsigned pack_elements(float low, float high)
{
    unsigned r;
#if SVG2_ELEMENT_FP16
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(high), "f"(low));
#else
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(high), "f"(low));
#endif
    return r;
}

// Round-to-nearest-even to bf16 and back: the reference's bf16 selection arithmetic.
__device__ __forceinline__ float round_to_bf16(float f)
{
    unsigned short h;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return __uint_as_float(((unsigned)h) << 16);
}

__device__ __forceinline__ float fast_exp2(float x)
{
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}

__device__ __forceinline__ unsigned shared_address(const void* pointer)
{
    unsigned r;
    asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(r) : "l"(pointer));
    return r;
}

// Byte offset of 16-byte chunk 'chunk' of row 'row' in a swizzled [rows x kHeadDim] tile: the XOR
// spreads the 8 rows an ldmatrix reads over all 32 banks.
__device__ __forceinline__ unsigned tile_offset(int row, int chunk)
{
    return (unsigned)((row * kRowChunks + (chunk ^ (row % kSwizzleRows))) * 16);
}

// Asynchronous copies global -> shared. When 'valid' is false the source is not read and the bytes
// are zero-filled: the copy's ignore-source predicate, set straight from 'valid' (no byte count to
// compute per copy).
__device__ __forceinline__ void copy_async_16(unsigned destination, const void* source, bool valid)
{
    asm volatile("{\n.reg .pred p;\nsetp.eq.b32 p, %2, 0;\ncp.async.cg.shared.global [%0], [%1], 16, p;\n}\n"
                 :: "r"(destination), "l"(source), "r"((int)valid) : "memory");
}

// The 4-byte form goes through L1 (.ca), the only path for copies under 16 bytes.
__device__ __forceinline__ void copy_async_4(unsigned destination, const void* source, bool valid)
{
    asm volatile("{\n.reg .pred p;\nsetp.eq.b32 p, %2, 0;\ncp.async.ca.shared.global [%0], [%1], 4, p;\n}\n"
                 :: "r"(destination), "l"(source), "r"((int)valid) : "memory");
}

__device__ __forceinline__ void copy_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }

template <int Pending>
__device__ __forceinline__ void copy_async_wait() { asm volatile("cp.async.wait_group %0;" :: "n"(Pending) : "memory"); }

__device__ __forceinline__ void load_matrix_x4(unsigned (&r)[4], unsigned address)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
}

__device__ __forceinline__ void load_matrix_x4_transposed(unsigned (&r)[4], unsigned address)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
}

// D += A x B for one 16x8x16 tile: A row-major 16x16 (4 registers), B column-major 16x8 (2 registers),
// fp32 accumulators (4 registers).
__device__ __forceinline__ void mma_16x8x16(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1)
{
#if SVG2_ELEMENT_FP16
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
#endif
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ float warp_sum(float value)
{
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(kFullMask, value, offset);
    return value;
}

// A reduction over a block of 'Warps' warps by 'combine': within each warp first (xor shuffles, halving
// offsets), then the warps' results in warp order, so the order is fixed; every thread gets the result.
// 'scratch' holds Warps floats; the leading barrier lets a block reduce again with the same scratch.
template <int Warps, typename Combine>
__device__ __forceinline__ float block_reduce(float value, float* scratch, Combine combine)
{
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) value = combine(value, __shfl_xor_sync(kFullMask, value, offset));
    __syncthreads();
    if (threadIdx.x % kWarpSize == 0) scratch[threadIdx.x / kWarpSize] = value;
    __syncthreads();
    float result = scratch[0];
    for (int w = 1; w < Warps; ++w) result = combine(result, scratch[w]);
    return result;
}

// Inclusive prefix sum over the lanes of a warp (int or float).
template <typename T>
__device__ __forceinline__ T warp_inclusive_scan(T value)
{
    const int lane = threadIdx.x % kWarpSize;
    for (int offset = 1; offset < kWarpSize; offset *= 2)
    {
        T other = __shfl_up_sync(kFullMask, value, offset);
        if (lane >= offset) value += other;
    }
    return value;
}

// Exclusive prefix sum of 'values[0..count)' in place by warp 0 of the block, 32 items per step;
// returns the total to every lane of warp 0. Callers synchronise around it.
__device__ __forceinline__ int warp_exclusive_scan_in_place(int* values, int count)
{
    const int lane = threadIdx.x % kWarpSize;
    int carry = 0;
    for (int base = 0; base < count; base += kWarpSize)
    {
        int index = base + lane;
        int value = index < count ? values[index] : 0;
        int inclusive = warp_inclusive_scan(value);
        if (index < count) values[index] = carry + inclusive - value;
        carry += __shfl_sync(kFullMask, inclusive, kWarpSize - 1);
    }
    return carry;
}

// Sorts 'count' (a power of two) 64-bit keys in shared memory into ascending order with a bitonic
// network, run by every thread of a block of 'Threads' threads; the keys are ready for every thread
// on return.
template <int Threads>
__device__ __forceinline__ void block_bitonic_sort(unsigned long long* keys, int count)
{
    for (int size = 2; size <= count; size *= 2)
        for (int stride = size / 2; stride > 0; stride /= 2)
        {
            __syncthreads();
            for (int t = threadIdx.x; t < count / 2; t += Threads)
            {
                int low = 2 * t - (t & (stride - 1)), high = low + stride;
                bool ascending = (low & size) == 0;
                unsigned long long a = keys[low], b = keys[high];
                if ((a > b) == ascending) { keys[low] = b; keys[high] = a; }
            }
        }
    __syncthreads();
}

// The smallest (distance, index) pair over the 4 lanes of a quad (the lanes that share an MMA
// accumulator row); ties keep the lower index. A NaN distance counts as the smallest, as in
// torch.argmin (the reference's assignment): the lowest index with a NaN wins.
__device__ __forceinline__ void quad_argmin(float& best, int& index)
{
#pragma unroll
    for (int offset = 1; offset < 4; offset *= 2)
    {
        const float other = __shfl_xor_sync(kFullMask, best, offset);
        const int other_index = __shfl_xor_sync(kFullMask, index, offset);
        const bool other_nan = is_nan(other), best_nan = is_nan(best);
        const bool take = other_nan ? (!best_nan || other_index < index)
                                    : (!best_nan && (other < best || (other == best && other_index < index)));
        if (take) { best = other; index = other_index; }
    }
}
