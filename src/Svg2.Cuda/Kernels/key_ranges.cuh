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

// One query tile of the plan: a cluster id, its first permuted query row and the rows it holds.
struct QueryTile
{
    int cluster;
    int64 begin;
    int rows;
};

// The tile behind work item 'work' of problem 'g' (svg2_plan_tiles' order and tile starts); false
// past the problem's tile count (the grid is sized by the maximum over problems). Every lane of the
// calling warp must take part with the same 'work' and 'g'.
__device__ __forceinline__ bool locate_query_tile(QueryTile& tile, int work, int g, int qc, int rows_per_tile, const int* order,
                                                  const int* tile_start, const int64* query_offsets)
{
    const int* starts_of_group = tile_start + (int64)g * (qc + 1);
    if (work >= starts_of_group[qc]) return false;
    // The sorted cluster whose tiles contain this work item: the last p with start[p] <= work (start[0] = 0 and the
    // starts never decrease). Each round the warp's lanes probe 32 evenly spaced starts of [low, high) at once and keep
    // the stretch after the last one at most 'work': two rounds of loads up to 1,024 clusters, where a binary search
    // walked one dependent load per halving (nine at 300 clusters) before the block could start.
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
    tile.cluster = order[(int64)g * qc + low];
    const int64 cluster_begin = query_offsets[(int64)g * (qc + 1) + tile.cluster];
    tile.begin = cluster_begin + (int64)(work - starts_of_group[low]) * rows_per_tile;
    tile.rows = (int)min((int64)rows_per_tile, query_offsets[(int64)g * (qc + 1) + tile.cluster + 1] - tile.begin);
    return true;
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
