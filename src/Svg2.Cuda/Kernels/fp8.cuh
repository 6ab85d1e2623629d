// FP8 (e4m3) on Hopper: conversions to e4m3 and the e4m3 warpgroup products (wgmma k32: both shared
// operands K-major, the only layout FP8 wgmma reads; A may come from registers instead).
//
// An e4m3 tile row is one 128-byte panel row of hopper.cuh's layout (16-byte chunk c of row r at
// c ^ (r % 8)), so a k32 step is the same 32-byte advance within the row as a 16-bit k16 step.
// Register A of a k32 step (per warp, lane = 4 g + t): register 0 holds row g, reduction columns
// 4 t .. 4 t + 3 (lowest byte first); register 1 row g + 8, the same columns; registers 2 and 3 the
// same rows at columns 16 + 4 t .. 16 + 4 t + 3.
#pragma once
#include "hopper.cuh"

constexpr int kFp8WgmmaK = 32;                              // reduction depth (bytes) of one e4m3 wgmma
constexpr int kFp8RowBytes = kPanelRowBytes;                // an e4m3 tile row: one panel row, up to 128 elements
constexpr float kE4M3Max = 448.f;                           // the largest finite e4m3 value

// Two floats to e4m3 (round to nearest even, finite values saturated to +-448, NaN kept); 'low' in the lower byte.
__device__ __forceinline__ unsigned short e4m3_pair(float low, float high)
{
    unsigned short pair;
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(pair) : "f"(high), "f"(low));
    return pair;
}

// Four floats to e4m3 in one register, the first in the lowest byte.
__device__ __forceinline__ unsigned e4m3_quad(float a, float b, float c, float d)
{
    return e4m3_pair(a, b) | (unsigned)e4m3_pair(c, d) << 16;
}

// Eight floats to e4m3 (as e4m3_pair), as 8 bytes in order.
__device__ __forceinline__ uint2 to_e4m3(const float (&x)[kChunkElements])
{
    return make_uint2(e4m3_quad(x[0], x[1], x[2], x[3]), e4m3_quad(x[4], x[5], x[6], x[7]));
}

// The larger and the smaller of two values, NaN if either is NaN (fmaxf and fminf would drop it), in one instruction
// each: a NaN row or tile gets a NaN scale.
__device__ __forceinline__ float nan_max(float a, float b)
{
    float larger;
    asm("max.NaN.f32 %0, %1, %2;" : "=f"(larger) : "f"(a), "f"(b));
    return larger;
}

__device__ __forceinline__ float nan_min(float a, float b)
{
    float smaller;
    asm("min.NaN.f32 %0, %1, %2;" : "=f"(smaller) : "f"(a), "f"(b));
    return smaller;
}

// K-major operand of an e4m3 tile: k32 step 'step' of the rows starting at 'tile' (8-row groups 1024 bytes apart).
__device__ __forceinline__ unsigned long long fp8_k_major_descriptor(unsigned tile, int step)
{
    return matrix_descriptor(tile + step * kFp8WgmmaK, 16, kSwizzleAtomBytes);
}

#define SVG2_WGMMA_FP8_SHARED(N, OPERANDS, ACCUMULATORS, A, B, P)                                                \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " P ", 0;\n"                                                 \
                 "wgmma.mma_async.sync.aligned.m64n" #N "k32.f32.e4m3.e4m3 {" OPERANDS "}, " A ", " B ", p, 1, 1;\n}\n" \
                 : ACCUMULATORS : "l"(a), "l"(b), "r"((int)accumulate))
#define SVG2_WGMMA_FP8_REGISTERS(N, OPERANDS, ACCUMULATORS, MORE_ACCUMULATORS, A0, B, P)                          \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " P ", 0;\n"                                                 \
                 "wgmma.mma_async.sync.aligned.m64n" #N "k32.f32.e4m3.e4m3 {" OPERANDS "}, " A0 ", " B ", p, 1, 1;\n}\n" \
                 : ACCUMULATORS, MORE_ACCUMULATORS : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"((int)accumulate))
#define SVG2_ACCUMULATORS_4(d, i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3])

// D (64 x Columns) = A B (+ D when 'accumulate'), one k32 step: A and B K-major in shared memory.
template <int Columns>
__device__ __forceinline__ void wgmma_fp8_shared(float (&d)[Columns / 2], unsigned long long a, unsigned long long b, bool accumulate)
{
    static_assert(Columns == 64 || Columns == 128, "wgmma N of the e4m3 products");
    if constexpr (Columns == 128) SVG2_WGMMA_FP8_SHARED(128, SVG2_OPERANDS_64, SVG2_ACCUMULATORS_64(d), "%64", "%65", "%66");
    else SVG2_WGMMA_FP8_SHARED(64, SVG2_OPERANDS_32, SVG2_ACCUMULATORS_32(d), "%32", "%33", "%34");
}

// D (64 x Columns) = A B (+ D when 'accumulate'), one k32 step: A in registers (the layout above), B K-major in shared
// memory. Columns is a head dimension plus 8 (attention's P V with its row-sum columns).
template <int Columns>
__device__ __forceinline__ void wgmma_fp8_registers(float (&d)[Columns / 2], const unsigned (&a)[4], unsigned long long b, bool accumulate)
{
    static_assert(Columns == 72 || Columns == 136, "wgmma N of the e4m3 P V products");
    if constexpr (Columns == 136)
        SVG2_WGMMA_FP8_REGISTERS(136, SVG2_OPERANDS_64 ", %64, %65, %66, %67", SVG2_ACCUMULATORS_64(d), SVG2_ACCUMULATORS_4(d, 64),
                                 "{%68, %69, %70, %71}", "%72", "%73");
    else
        SVG2_WGMMA_FP8_REGISTERS(72, SVG2_OPERANDS_32 ", %32, %33, %34, %35", SVG2_ACCUMULATORS_32(d), SVG2_ACCUMULATORS_4(d, 32),
                                 "{%36, %37, %38, %39}", "%40", "%41");
}
#undef SVG2_WGMMA_FP8_SHARED
#undef SVG2_WGMMA_FP8_REGISTERS
#undef SVG2_ACCUMULATORS_4

// D (64 x Columns) = A B^T over 'Steps' k32 steps of two e4m3 tiles (A: 64 rows at 'a_slice', B: Columns rows at
// 'b_tile'), issued as one commit group.
template <int Columns, int Steps>
__device__ __forceinline__ void wgmma_fp8_rows_by_rows(float (&d)[Columns / 2], unsigned a_slice, unsigned b_tile)
{
    fence_registers(d);
    warpgroup_fence();
#pragma unroll
    for (int step = 0; step < Steps; ++step)
        wgmma_fp8_shared<Columns>(d, fp8_k_major_descriptor(a_slice, step), fp8_k_major_descriptor(b_tile, step), step > 0);
    warpgroup_commit();
}
