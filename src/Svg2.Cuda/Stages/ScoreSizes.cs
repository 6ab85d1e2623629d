using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>The cluster sizes the routing probe's sweep 2 normalises its errors into scores with.</summary>
/// <param name="Query">[G, QC] int64 n_a.</param>
/// <param name="Key">[G, KC] int64 n_b.</param>
internal readonly record struct ScoreSizes(Tensor Query, Tensor Key);
