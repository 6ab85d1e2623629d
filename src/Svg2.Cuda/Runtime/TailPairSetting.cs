namespace Svg2.Cuda.Runtime;

/// <summary>
/// Whether the Hopper plan lets two clusters' last, partial half tiles share one tile (tail_pairs.cu), honouring the
/// SVG2_TAIL_PAIRS setting: on by default, off to measure the plan without pair tiles in the same build.
/// </summary>
public static class TailPairSetting
{
    /// <summary>Environment variable: <c>on</c> (default) or <c>off</c>.</summary>
    public const string Setting = "SVG2_TAIL_PAIRS";

    /// <summary>Whether this process pairs tails.</summary>
    public static bool Enabled => Parse(Environment.GetEnvironmentVariable(Setting));

    /// <summary>The choice a setting value makes (null or blank = on).</summary>
    public static bool Parse(string? setting) => (string.IsNullOrWhiteSpace(setting) ? "on" : setting.Trim().ToLowerInvariant()) switch
    {
        "on" => true,
        "off" => false,
        _ => throw new ArgumentException($"{Setting} must be on or off; got '{setting}'."),
    };
}
