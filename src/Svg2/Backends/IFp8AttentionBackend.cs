using Svg2.Algorithm;
using Svg2.Attention.Fp8;
using static TorchSharp.torch;

namespace Svg2.Backends;

/// <summary>A backend that can run the attention stage in FP8 E4M3 (<see cref="Fp8BlockSparseAttention"/>).</summary>
public interface IFp8AttentionBackend : ISvg2Backend
{
    /// <summary>
    /// <see cref="ISvg2Backend.BlockSparseAttention"/> with Q, K, P and V in FP8 under <paramref name="settings"/>;
    /// head dimension 64 or 128 (otherwise <see cref="ArgumentException"/>).
    /// </summary>
    Tensor Fp8BlockSparseAttention(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, double scale,
        Fp8AttentionSettings settings);
}
