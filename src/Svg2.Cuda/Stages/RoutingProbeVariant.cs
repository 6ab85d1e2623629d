namespace Svg2.Cuda.Stages;

/// <summary>How the routing probe kernels (probe.cu) walk a split's keys; both give the same scores.</summary>
public enum RoutingProbeVariant
{
    /// <summary>One tile at a time: stage (values centred through registers), wait, compute.</summary>
    Baseline,

    /// <summary>Two stages: the copies of the next tile run under the MMAs of the current one (the default).</summary>
    Pipelined,
}
