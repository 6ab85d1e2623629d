// The running nearest-centroid search shared by the k-means assignment kernels (svg2_kmeans_assign
// in kmeans.cu with mma.sync, svg2_kmeans_assign_hopper in kmeans_hopper.cu with wgmma). Both leave
// a tile's scores x.c - |c|^2 / 2 in the MMA accumulator layout: per row, this thread holds columns
// 8 j + 2 (lane % 4) + e (e = 0, 1) of the tile, and the nearest centroid has the largest score.
#pragma once
#include "common.cuh"

// A score as the search ranks it: a NaN score (a NaN distance) as +infinity, above every number, so
// that it is the nearest as a NaN distance is in torch.argmin (the reference's assignment) and both
// backends label such a point alike: the lowest centroid with a NaN distance. Mapped once per
// candidate, the comparisons below stay plain '>' (a NaN-aware comparison at every tree level made
// the assignment 2.5 to 3 times slower). A true +infinity score ties with NaN; the lower column wins.
__device__ __forceinline__ float ranked_score(float score) { return is_nan(score) ? __int_as_float(0x7f800000) : score; }

// Reduces 'Width' candidates to slot 0: each level merges slots 2 i and 2 i + 1 into slot i, and an odd
// last slot moves up unmerged. Slot 2 i + 1 always holds higher columns than slot 2 i (and the moved slot
// higher than every merged one), so a strict '>' keeps the lowest column on ties. Template recursion keeps
// every index a constant, so the arrays stay in registers.
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
        if constexpr (Width % 2 == 1)
        {
            value[Width / 2] = value[Width - 1];
            column[Width / 2] = column[Width - 1];
        }
        argmax_tree<(Width + 1) / 2>(value, column);
    }
}

// Folds one row's 'Candidates' scores of a tile into the running best: score_of(j, e) is the score
// of column 8 j + 2 (lane % 4) + e, 'first_column' the tile's first centroid and 'valid_columns' the
// number of its columns that are centroids. Candidate 2 j + e is in increasing column order, as
// argmax_tree needs; every column of the tile follows the running best's, so a strict '>' keeps the
// lowest id on ties there too. A pairwise tree (depth log2) instead of a dependent chain per row keeps
// the compare-and-select instructions independent. 'Ranked' maps NaN scores first (right for any
// input); without it the search is plain, which gives the same result where no score can be NaN,
// and saves two of the five instructions a score costs (the caller proves its inputs bounded).
template <int Candidates, bool Ranked = true, class ScoreOf>
__device__ __forceinline__ void keep_row_best(float& best, int& best_column, int first_column, int valid_columns, ScoreOf score_of)
{
    const int lane_column = 2 * (threadIdx.x % 4);
    float value[Candidates];
    int column[Candidates];
    // Past the last centroid the rows are zeros with a -inf bias, but a non-finite point times a zero
    // row is NaN, which would rank first: in a partial tile (the last; the branch is uniform) such
    // columns are set to -inf.
    if (valid_columns < 4 * Candidates)
    {
#pragma unroll
        for (int c = 0; c < Candidates; ++c)
        {
            column[c] = (c / 2) * 8 + c % 2;
            const float score = score_of(c / 2, c % 2);
            value[c] = lane_column + column[c] < valid_columns ? (Ranked ? ranked_score(score) : score) : negative_infinity();
        }
    }
    else
    {
#pragma unroll
        for (int c = 0; c < Candidates; ++c)
        {
            column[c] = (c / 2) * 8 + c % 2;
            const float score = score_of(c / 2, c % 2);
            value[c] = Ranked ? ranked_score(score) : score;
        }
    }
    argmax_tree<Candidates>(value, column);
    if (value[0] > best) { best = value[0]; best_column = first_column + lane_column + column[0]; }
}

// Combines the running bests of the 4 lanes that share a row and lets the first store the label.
// -2 x score is the distance up to |x|^2: exact in float32, so order and ties are kept (a NaN
// distance ranked as +infinity score is -infinity here, still the nearest).
__device__ __forceinline__ void store_nearest(float best, int best_column, int64* label, bool in_range)
{
    float distance = -2.f * best;
    quad_argmin(distance, best_column);
    if (threadIdx.x % 4 == 0 && in_range) *label = best_column;
}
