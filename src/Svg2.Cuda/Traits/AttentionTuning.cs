namespace Svg2.Cuda.Traits;

/// <summary>
/// The tunable part of the portable sparse attention kernel's shape: key rows per K/V tile, query rows
/// per warp and the occupancy hint. Read once per process from SVG2_ATTENTION_TUNING
/// ("keys,warpRows,minBlocks", e.g. "64,16,2"), so variants can be compared on a GPU without
/// rebuilding; <see cref="SparseAttentionTraits"/> turns it into the kernel's macros and launch shape.
/// </summary>
/// <param name="BlockKeys">Key rows per K/V tile (16 to 64, multiple of 16).</param>
/// <param name="WarpRows">Query rows per warp (16 or 32); the 64-row tile has 64 / WarpRows warps.</param>
/// <param name="MinBlocks">Minimum resident blocks per multiprocessor the compiler should allow for.</param>
public sealed record AttentionTuning(int BlockKeys, int WarpRows, int MinBlocks)
{
    /// <summary>The shape used when nothing is configured.</summary>
    public static readonly AttentionTuning Default = new(64, 16, 2);

    /// <summary>The environment variable read by <see cref="Current"/>.</summary>
    public const string Setting = "SVG2_ATTENTION_TUNING";

    /// <summary>The tuning of this process.</summary>
    public static AttentionTuning Current { get; } = Parse(Environment.GetEnvironmentVariable(Setting));

    /// <summary>Parses "keys,warpRows,minBlocks"; empty means <see cref="Default"/>.</summary>
    public static AttentionTuning Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return Default;
        var parts = text.Split(',').Select(p => int.TryParse(p, out var value) ? value : -1).ToArray();
        if (parts.Length != 3 || parts[0] is < 16 or > 64 || parts[0] % 16 != 0 || parts[1] is not (16 or 32) || parts[2] is < 1 or > 8
            || SparseAttentionTraits.PortableThreadsFor(parts[1]) < parts[0])
            throw new ArgumentException($"{Setting} must be 'keys,warpRows,minBlocks' with keys in 16..64 (multiple of 16, at most the thread count), warpRows 16 or 32, minBlocks 1..8; got '{text}'.");
        return new AttentionTuning(parts[0], parts[1], parts[2]);
    }
}
