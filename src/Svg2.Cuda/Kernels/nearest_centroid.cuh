// The running nearest-centroid search shared by the k-means assignment kernels (svg2_kmeans_assign
// in kmeans.cu with mma.sync, svg2_kmeans_assign_hopper in kmeans_hopper.cu with wgmma). Both leave
// a tile's scores x.c - |c|^2 / 2 in the MMA accumulator layout: per row, this thread holds columns
// 8 j + 2 (lane % 4) + e (e = 0, 1) of the tile, and the nearest centroid has the largest score.
#pragma once
#include "common.cuh"

// Reduces 'Width' candidates to slot 0: each level merges slots 2 i and 2 i + 1 into slot i. Slot
// 2 i + 1 always holds higher columns than slot 2 i, so a strict '>' keeps the lowest column on ties.
// Template recursion keeps every index a constant, so the arrays stay in registers.
template <int Width, int N>
__device__ __forceinline__ void argmax_tree(float (&value)[N], int (&column)[N])
{
    if constexpr (Width > 1)
    {
#pragma unroll
        for (int i = 0; i < Width / 2; ++i)
        {
            const bool higher = value[2 * i + 1] > value[2 * i];
            value[i] = higher ? value[2 * i + 1] : value[2 * i];
            column[i] = higher ? column[2 * i + 1] : column[2 * i];
        }
        argmax_tree<Width / 2>(value, column);
    }
}

// Folds one row's 'Candidates' scores of a tile into the running best: score_of(j, e) is the score
// of column 8 j + 2 (lane % 4) + e, 'first_column' the tile's first centroid. Candidate 2 j + e is
// in increasing column order, as argmax_tree needs; every column of the tile follows the running
// best's, so a strict '>' keeps the lowest id on ties there too. A pairwise tree (depth log2) instead
// of a dependent chain per row keeps the compare-and-select instructions independent.
template <int Candidates, class ScoreOf>
__device__ __forceinline__ void keep_row_best(float& best, int& best_column, int first_column, ScoreOf score_of)
{
    float value[Candidates];
    int column[Candidates];
#pragma unroll
    for (int c = 0; c < Candidates; ++c)
    {
        value[c] = score_of(c / 2, c % 2);
        column[c] = (c / 2) * 8 + c % 2;
    }
    argmax_tree<Candidates>(value, column);
    if (value[0] > best) { best = value[0]; best_column = first_column + 2 * (threadIdx.x % 4) + column[0]; }
}

// Combines the running bests of the 4 lanes that share a row and lets the first store the label.
// -2 x score is the distance up to |x|^2: exact in float32, so order and ties are kept.
__device__ __forceinline__ void store_nearest(float best, int best_column, int64* label, bool in_range)
{
    float distance = -2.f * best;
    quad_argmin(distance, best_column);
    if (threadIdx.x % 4 == 0 && in_range) *label = best_column;
}
