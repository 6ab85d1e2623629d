namespace Svg2.Cuda.Runtime;

/// <summary>
/// Whether the Hopper plan lets two clusters' last, partial half tiles share one tile (tail_pairs.cu), honouring the
/// SVG2_TAIL_PAIRS setting: <see cref="Default"/> unless set, the other choice to measure both plans in one build.
/// </summary>
public static class TailPairSetting
{
    /// <summary>Environment variable: <c>on</c> or <c>off</c>.</summary>
    public const string Setting = "SVG2_TAIL_PAIRS";

    /// <summary>
    /// The choice where the setting is absent: on, since the pair tiles save the attention more than the pairing costs the
    /// plan at every shape measured (docs/cuda-performance.md).
    /// </summary>
    public const bool Default = true;

    /// <summary>Whether this process pairs tails.</summary>
    public static bool Enabled => Parse(Environment.GetEnvironmentVariable(Setting));

    /// <summary>The choice a setting value makes (null or blank: <see cref="Default"/>).</summary>
    public static bool Parse(string? setting) => string.IsNullOrWhiteSpace(setting) ? Default : setting.Trim().ToLowerInvariant() switch
    {
        "on" => true,
        "off" => false,
        _ => throw new ArgumentException($"{Setting} must be on or off; got '{setting}'."),
    };
}
