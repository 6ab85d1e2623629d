// The running nearest-centroid search shared by the k-means assignment kernels (svg2_kmeans_assign
// in kmeans.cu with mma.sync, svg2_kmeans_assign_hopper in kmeans_hopper.cu with wgmma). Both leave
// a tile's scores x.c - |c|^2 / 2 in the MMA accumulator layout: per row, this thread holds columns
// 8 j + 2 (lane % 4) + e (e = 0, 1) of the tile, and the nearest centroid has the largest score.
#pragma once
#include "common.cuh"

// Whether score a beats score b: a larger score (a nearer centroid), or a NaN score against a number.
// NaN wins as it does in torch.argmin over distances (the reference's assignment), so both backends
// label a point with a NaN distance alike: the lowest centroid with one. Equal scores and two NaNs do
// not beat each other, so the lower column is kept.
__device__ __forceinline__ bool score_beats(float a, float b) { return a > b || (is_nan(a) && !is_nan(b)); }

// Reduces 'Width' candidates to slot 0: each level merges slots 2 i and 2 i + 1 into slot i. Slot
// 2 i + 1 always holds higher columns than slot 2 i, so score_beats keeps the lowest column on ties.
// Template recursion keeps every index a constant, so the arrays stay in registers.
template <int Width, int N>
__device__ __forceinline__ void argmax_tree(float (&value)[N], int (&column)[N])
{
    if constexpr (Width > 1)
    {
#pragma unroll
        for (int i = 0; i < Width / 2; ++i)
        {
            const bool higher = score_beats(value[2 * i + 1], value[2 * i]);
            value[i] = higher ? value[2 * i + 1] : value[2 * i];
            column[i] = higher ? column[2 * i + 1] : column[2 * i];
        }
        argmax_tree<Width / 2>(value, column);
    }
}

// Folds one row's 'Candidates' scores of a tile into the running best: score_of(j, e) is the score
// of column 8 j + 2 (lane % 4) + e, 'first_column' the tile's first centroid and 'valid_columns' the
// number of its columns that are centroids. Candidate 2 j + e is in increasing column order, as
// argmax_tree needs; every column of the tile follows the running best's, so score_beats keeps the
// lowest id on ties there too. A pairwise tree (depth log2) instead of a dependent chain per row keeps
// the compare-and-select instructions independent.
template <int Candidates, class ScoreOf>
__device__ __forceinline__ void keep_row_best(float& best, int& best_column, int first_column, int valid_columns, ScoreOf score_of)
{
    const int lane_column = 2 * (threadIdx.x % 4);
    float value[Candidates];
    int column[Candidates];
#pragma unroll
    for (int c = 0; c < Candidates; ++c)
    {
        column[c] = (c / 2) * 8 + c % 2;
        // Past the last centroid the rows are zeros with a -inf bias, but a non-finite point times a
        // zero row is NaN, which would win: such columns are set to -inf here.
        value[c] = lane_column + column[c] < valid_columns ? score_of(c / 2, c % 2) : negative_infinity();
    }
    argmax_tree<Candidates>(value, column);
    if (score_beats(value[0], best)) { best = value[0]; best_column = first_column + lane_column + column[0]; }
}

// Combines the running bests of the 4 lanes that share a row and lets the first store the label.
// -2 x score is the distance up to |x|^2: exact in float32, so order, ties and NaN are kept.
__device__ __forceinline__ void store_nearest(float best, int best_column, int64* label, bool in_range)
{
    float distance = -2.f * best;
    quad_argmin(distance, best_column);
    if (threadIdx.x % 4 == 0 && in_range) *label = best_column;
}
