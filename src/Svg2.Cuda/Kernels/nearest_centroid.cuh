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

// Reduces 'Width' slots to slot 0: each level merges slots 2 i and 2 i + 1 into slot i (merge(i, 2 i, 2 i + 1)), and
// an odd last slot moves up unmerged (move(to, from)), so slot 2 i + 1 always holds higher columns than slot 2 i and
// the moved slot higher than every merged one. Template recursion keeps every index a constant, so the callers'
// arrays stay in registers.
template <int Width, class Merge, class Move>
__device__ __forceinline__ void pairwise_tree(Merge merge, Move move)
{
    if constexpr (Width > 1)
    {
#pragma unroll
        for (int i = 0; i < Width / 2; ++i) merge(i, 2 * i, 2 * i + 1);
        if constexpr (Width % 2 == 1) move(Width / 2, Width - 1);
        pairwise_tree<(Width + 1) / 2>(merge, move);
    }
}

// The argmax of 'Width' candidates into slot 0; with the column order of pairwise_tree a strict '>' keeps the lowest
// column on ties.
template <int Width, int N>
__device__ __forceinline__ void argmax_tree(float (&value)[N], int (&column)[N])
{
    pairwise_tree<Width>(
        [&](int to, int low, int high) {
            const bool higher = value[high] > value[low];
            value[to] = higher ? value[high] : value[low];
            column[to] = higher ? column[high] : column[low];
        },
        [&](int to, int from) {
            value[to] = value[from];
            column[to] = column[from];
        });
}

// The plain search's candidates carry their number in the score: the kCodeBits lowest mantissa bits of
// a finite score are replaced by a code of its candidate, so one float maximum (FMNMX) per candidate both
// ranks and remembers it, where a compare and two selects did. The price is exactness within the
// replaced bits: candidates whose scores agree to 2^-18 of their size (32 units in the last place) rank
// by a fixed candidate order (the lowest column first where the scores are positive, the highest where
// negative), not by their low bits, so a label may move to a centroid whose distance is larger by at
// most 2^-16 of the score's size. That is far below what the 16-bit inputs themselves resolve.
constexpr int kCodeBits = 5;
constexpr unsigned kCodeMask = (1u << kCodeBits) - 1;

// 'score' with its low bits replaced by 'code': (bits & ~kCodeMask) | code as one LOP3, the mask in
// a register (shared by every candidate) and the code an immediate.
template <unsigned Code>
__device__ __forceinline__ float with_code(float score, unsigned kept_bits)
{
    static_assert(Code <= kCodeMask, "a code fits the replaced bits");
    unsigned bits;
    // Truth table 0xE4 = c ? a : b over (a: the score, b: the code, c: the kept bits' mask).
    asm("lop3.b32 %0, %1, %2, %3, 0xE4;" : "=r"(bits) : "r"(__float_as_uint(score)), "n"(Code), "r"(kept_bits));
    return __uint_as_float(bits);
}

// The plain search's part of keep_row_best: candidate c gets code kCodeMask - c, the tile's best of this
// row is one maximum tree over the coded scores, and its code names its column. Columns past the last
// centroid are -inf (uncoded), which never passes the strict '>' against a running best.
template <bool Partial, int Candidates, int C = 0, class ScoreOf>
__device__ __forceinline__ void coded_scores(float (&value)[Candidates], unsigned kept_bits, int lane_column, int valid_columns, ScoreOf score_of)
{
    if constexpr (C < Candidates)
    {
        const float coded = with_code<kCodeMask - C>(score_of(C / 2, C % 2), kept_bits);
        value[C] = Partial && lane_column + (C / 2) * 8 + C % 2 >= valid_columns ? negative_infinity() : coded;
        coded_scores<Partial, Candidates, C + 1>(value, kept_bits, lane_column, valid_columns, score_of);
    }
}

// The maximum of 'Width' coded scores into slot 0 (the codes make every pair distinct where the scores tie).
template <int Width, int N>
__device__ __forceinline__ void max_tree(float (&value)[N])
{
    pairwise_tree<Width>([&](int to, int low, int high) { value[to] = fmaxf(value[low], value[high]); },
                         [&](int to, int from) { value[to] = value[from]; });
}

// Folds one row's 'Candidates' scores of a tile into the running best: score_of(j, e) is the score
// of column 8 j + 2 (lane % 4) + e, 'first_column' the tile's first centroid and 'valid_columns' the
// number of its columns that are centroids. 'Ranked' maps NaN scores first (right for any input) and
// keeps the exact argmax: candidate 2 j + e is in increasing column order, as argmax_tree needs, and
// every column of the tile follows the running best's, so a strict '>' keeps the lowest id on ties; a
// pairwise tree (depth log2) instead of a dependent chain per row keeps the compare-and-select
// instructions independent (five instructions a score). Without it the search is plain and coded
// (above: two instructions a score), for callers that prove no score can be NaN.
template <int Candidates, bool Ranked = true, class ScoreOf>
__device__ __forceinline__ void keep_row_best(float& best, int& best_column, int first_column, int valid_columns, ScoreOf score_of)
{
    static_assert(Ranked || Candidates <= (int)kCodeMask + 1, "every plain candidate has a code");
    const int lane_column = 2 * (threadIdx.x % 4);
    // Past the last centroid the rows are zeros with a -inf bias, but a non-finite point times a zero
    // row is NaN, which would rank first: in a partial tile (the last; the branch is uniform) such
    // columns are set to -inf.
    const bool partial = valid_columns < 4 * Candidates;
    float value[Candidates];
    if constexpr (!Ranked)
    {
        if (partial) coded_scores<true, Candidates>(value, ~kCodeMask, lane_column, valid_columns, score_of);
        else coded_scores<false, Candidates>(value, ~kCodeMask, lane_column, valid_columns, score_of);
        max_tree<Candidates>(value);
        if (value[0] > best)
        {
            best = value[0];
            const int candidate = (int)(kCodeMask - (__float_as_uint(value[0]) & kCodeMask));
            best_column = first_column + lane_column + (candidate / 2) * 8 + candidate % 2;
        }
        return;
    }
    int column[Candidates];
    if (partial)
    {
#pragma unroll
        for (int c = 0; c < Candidates; ++c)
        {
            column[c] = (c / 2) * 8 + c % 2;
            value[c] = lane_column + column[c] < valid_columns ? ranked_score(score_of(c / 2, c % 2)) : negative_infinity();
        }
    }
    else
    {
#pragma unroll
        for (int c = 0; c < Candidates; ++c)
        {
            column[c] = (c / 2) * 8 + c % 2;
            value[c] = ranked_score(score_of(c / 2, c % 2));
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
