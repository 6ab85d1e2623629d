namespace Svg2.Cuda.Stages;

/// <summary>
/// How the routing probe kernels (probe.cu) run: how sweep 1 walks the keys and how finely the keys are split
/// over blocks. The walks of one sweep-1 form and one split count give the same scores; the others agree with
/// the float64 reference probe within the same bounds.
/// </summary>
public enum RoutingProbeVariant
{
    /// <summary>Both sweeps walk the clusters one tile at a time: stage (values centred through registers), wait, compute.</summary>
    Baseline,

    /// <summary>Both sweeps walk the clusters with two stages: the copies of the next tile run under the MMAs of the current one.</summary>
    Pipelined,

    /// <summary><see cref="Pipelined"/> with about four times the key splits: smaller blocks, a shorter tail of the last wave.</summary>
    FineSplits,

    /// <summary>Sweep 1 as a flash pass over contiguous keys in original order (no clusters); sweep 2 <see cref="Pipelined"/>.</summary>
    Flash,

    /// <summary><see cref="Flash"/> with the key splits of <see cref="FineSplits"/>.</summary>
    FlashFineSplits,
}
