// Centroid compensation of the key clusters a query cluster skips (svg2-ear), in the attention kernels.
//
// Per query cluster: the skipped clusters are folded, outside the kernel, into one softmax term per
// query cluster: weight 2^log2_weight, in the exp2 domain of the kernels' row maxima (log2 of
// sum_b n_b exp(qbar . c_b * scale)), and value the weighted mean of their mean values. Each row of
// the cluster adds that term to its own exact softmax at the store, so the cost is one [D] float load
// per row and nothing in the key loop. Arrays: log2_weight [G x QC] float, value [G x QC x D] float; a
// null log2_weight means none.
//
// Per row (Hopper kernel): each skipped non-empty cluster b is one more key of the query cluster's
// virtual key sequence, after its exact keys: key c_b, value vbar_b (rows of [G x KCc x D] centroid
// tensors) and a score bias ln(n_b) / scale, so that the row's online softmax takes
// n_b exp(q_i . c_b * scale) exactly as the reference's extra columns. svg2_centroid_keys lists the
// clusters per query cluster; the attention kernel keeps the list and the biases in shared memory.
#pragma once
#include "common.cuh"

// Copies the centroid keys of (problem, query cluster) 'pair' (cluster ids and their score biases)
// into shared memory; returns how many (0 without per-row compensation). Callers synchronise
// before reading.
__device__ __forceinline__ int load_centroid_keys(int* ids, float* biases, int64 pair, int kc, const int* list, const int* count,
                                                  const float* group_bias, int threads)
{
    if (list == nullptr) return 0;
    const int keys = count[pair];
    for (int r = threadIdx.x; r < keys; r += threads)
    {
        const int cluster = list[pair * kc + r];
        ids[r] = cluster;
        biases[r] = group_bias[cluster];
    }
    return keys;
}

// The factors of a row's output, o * exact + compensation value * approximated, from its exact part
// (row_max in the exp2 domain, row_sum its full sum) and its cluster's compensation weight. With no
// compensation (log2_weight -inf) this is 1 / row_sum and 0; a row with neither part gives 0 and 0.
struct OutputFactors
{
    float exact;
    float approximated;
};

__device__ __forceinline__ OutputFactors output_factors(float row_max, float row_sum, float log2_weight)
{
    const float top = fmaxf(row_max, log2_weight);
    if (top == negative_infinity()) return {0.f, 0.f};
    const float exact = fast_exp2(row_max - top), approximated = fast_exp2(log2_weight - top);
    const float inverse = 1.f / (row_sum * exact + approximated);
    return {exact * inverse, approximated * inverse};
}

// The compensation of query cluster 'pair' (g * QC + cluster): its log2 weight (-inf without
// compensation) and its value row (null without).
struct ClusterCompensation
{
    float log2_weight;
    const float* value;
};

__device__ __forceinline__ ClusterCompensation cluster_compensation(const float* log2_weights, const float* values, int64 pair)
{
    if (log2_weights == nullptr) return {negative_infinity(), nullptr};
    return {log2_weights[pair], values + pair * kHeadDim};
}

// Columns 'column' and 'column' + 1 of the compensation value (0 without compensation).
__device__ __forceinline__ float2 compensation_pair(const ClusterCompensation& compensation, int column)
{
    if (compensation.value == nullptr)
    {
        const float2 zero = {0.f, 0.f};
        return zero;
    }
    return *(const float2*)(compensation.value + column);
}
