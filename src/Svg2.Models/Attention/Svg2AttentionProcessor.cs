using Svg2.Attention;
using Svg2.Configuration;
using static TorchSharp.torch;

namespace Svg2.Models.Attention;

/// <summary>
/// Self-attention by SVG2 with dense warm-up: each call runs dense or sparse as the
/// <see cref="DenseWarmupPolicy"/> says for its step and layer, and dense calls also refine the
/// layer's centroids when the policy asks for k-means during warm-up. Centroid caches live in a
/// <see cref="Svg2ModelState"/>, per layer and, by its sharing rule, per guidance pass; when the
/// guidance passes arrive as one batch, each batch part is run with its own pass's cache.
/// </summary>
/// <remarks>Reset the model state at the start of every video.</remarks>
public sealed class Svg2AttentionProcessor : ISelfAttentionProcessor
{
    readonly Svg2Attention _attention;
    readonly Svg2ModelState _state;
    readonly ISelfAttentionProcessor _dense;

    /// <summary>Creates the processor.</summary>
    /// <param name="attention">The sparse operator.</param>
    /// <param name="state">Centroid caches, one per layer (and pass); must cover every layer of the model.</param>
    /// <param name="policy">Which calls run dense.</param>
    /// <param name="dense">Dense attention for warm-up calls; SDPA when null.</param>
    public Svg2AttentionProcessor(Svg2Attention attention, Svg2ModelState state, DenseWarmupPolicy policy, ISelfAttentionProcessor? dense = null)
    {
        _attention = attention;
        _state = state;
        Policy = policy;
        _dense = dense ?? DenseAttentionProcessor.Instance;
    }

    /// <summary>The warm-up policy.</summary>
    public DenseWarmupPolicy Policy { get; }

    /// <summary>The sparse operator every sparse call runs.</summary>
    public Svg2Attention Attention => _attention;

    /// <summary>The centroid caches (and chosen top-p values) per layer and pass.</summary>
    public Svg2ModelState State => _state;

    /// <summary>
    /// Called after every call with its mode and, for sparse calls, the operator's result for each guidance
    /// pass of the batch (valid only during the callback). For statistics; reading densities synchronises.
    /// </summary>
    public Action<AttentionCall, AttentionMode, IReadOnlyList<Svg2Result>>? Observer { get; set; }

    /// <summary>The mode a call runs in, decided by step and layer alone.</summary>
    public AttentionMode ModeFor(AttentionCall call) =>
        !Policy.IsDense(call.Step, call.Layer) ? AttentionMode.Sparse
        : Policy.KMeansDuringWarmup ? AttentionMode.DenseWithKMeans
        : AttentionMode.Dense;

    /// <inheritdoc />
    public Tensor Process(AttentionCall call)
    {
        if (call.Layer >= _state.Layers)
            throw new ArgumentException($"Layer {call.Layer} has no SVG2 state (the state covers {_state.Layers} layers).");
        long batch = call.Query.shape[0];
        if (call.PassCount < 1 || batch % call.PassCount != 0)
            throw new ArgumentException($"A batch of {batch} cannot hold {call.PassCount} guidance passes evenly.");
        long part = batch / call.PassCount;
        var mode = ModeFor(call);

        if (mode != AttentionMode.Sparse)
        {
            if (mode == AttentionMode.DenseWithKMeans)
                for (int i = 0; i < call.PassCount; i++)
                {
                    using var q = call.Query.narrow(0, i * part, part);
                    using var k = call.Key.narrow(0, i * part, part);
                    _attention.RefineCentroids(q, k, _state.For(call.Layer, call.FirstPass + i));
                }
            var dense = _dense.Process(call);
            Observer?.Invoke(call, mode, []);
            return dense;
        }

        var results = new List<Svg2Result>(call.PassCount);
        try
        {
            for (int i = 0; i < call.PassCount; i++)
            {
                using var q = call.Query.narrow(0, i * part, part);
                using var k = call.Key.narrow(0, i * part, part);
                using var v = call.Value.narrow(0, i * part, part);
                results.Add(_attention.Forward(q, k, v, _state.For(call.Layer, call.FirstPass + i)));
            }
            Observer?.Invoke(call, mode, results);
            return results.Count == 1 ? results[0].Output.alias() : cat(results.Select(r => r.Output).ToList(), 0);
        }
        finally
        {
            foreach (var result in results) result.Dispose();
        }
    }
}
