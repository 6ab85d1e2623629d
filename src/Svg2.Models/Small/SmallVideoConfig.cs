using System.Text.Json.Serialization;
using Svg2.Models.Wan;

namespace Svg2.Models.Small;

/// <summary>
/// A small Wan text-to-video transformer for footage: its architecture, its pixel-unshuffle latent
/// space, the clip size it was trained on and the footage sources it is conditioned on.
/// </summary>
/// <remarks>
/// Latents are frames rearranged by <see cref="SpatialFactor"/> (3 x factor^2 channels, no temporal
/// compression); the transformer patches them by (1, 2, 2), so a token covers 2 x factor pixels square of
/// one frame. The conditioning is <see cref="ContextTokens"/> learned tokens of width
/// <see cref="ContextDim"/> per source, read by Wan's text cross-attention.
/// </remarks>
public sealed record SmallVideoConfig
{
    /// <summary>Transformer width.</summary>
    public int Dim { get; init; } = 384;

    /// <summary>Attention heads (head width 64 at the default width).</summary>
    public int Heads { get; init; } = 6;

    /// <summary>Transformer blocks.</summary>
    public int Layers { get; init; } = 8;

    /// <summary>Feed-forward hidden width.</summary>
    public int FfnDim { get; init; } = 1024;

    /// <summary>Width of the sinusoidal timestep embedding.</summary>
    public int FreqDim { get; init; } = 256;

    /// <summary>Width of a conditioning token.</summary>
    public int ContextDim { get; init; } = 128;

    /// <summary>Conditioning tokens per source.</summary>
    public int ContextTokens { get; init; } = 4;

    /// <summary>Pixels per latent pixel along height and width.</summary>
    public int SpatialFactor { get; init; } = 4;

    /// <summary>Frames of the clips trained on (the default video length).</summary>
    public int Frames { get; init; } = 33;

    /// <summary>Frame height of the clips trained on, in pixels.</summary>
    public int Height { get; init; } = 96;

    /// <summary>Frame width of the clips trained on, in pixels.</summary>
    public int Width { get; init; } = 160;

    /// <summary>Frame rate of the footage trained on: the rate the model's videos play at.</summary>
    public double Fps { get; init; } = 16;

    /// <summary>Footage source names; the conditioning has one entry per source plus the null entry.</summary>
    public string[] Sources { get; init; } = [];

    /// <summary>Latent channels: RGB times the pixels a latent pixel covers.</summary>
    [JsonIgnore]
    public int LatentChannels => 3 * SpatialFactor * SpatialFactor;

    /// <summary>Pixels per token side: the spatial factor times the patch size (2).</summary>
    [JsonIgnore]
    public int PixelsPerToken => 2 * SpatialFactor;

    /// <summary>Transformer tokens of a video of the trained size.</summary>
    [JsonIgnore]
    public long Tokens => TokensFor(Frames, Height, Width);

    /// <summary>Transformer tokens of a video of <paramref name="frames"/> frames of <paramref name="height"/> x <paramref name="width"/> pixels.</summary>
    public long TokensFor(int frames, int height, int width) => (long)frames * (height / PixelsPerToken) * (width / PixelsPerToken);

    /// <summary>The default model: width 384, 6 heads of 64, 8 layers, feed-forward 1024 (17.3 M parameters, 35 MB in bf16).</summary>
    public static SmallVideoConfig Footage(string[] sources, int frames, int height, int width) =>
        new() { Sources = sources, Frames = frames, Height = height, Width = width };

    /// <summary>A tiny model (width 32, 2 heads, 2 layers) for tests and smoke runs on a CPU.</summary>
    public static SmallVideoConfig Tiny(string[] sources, int frames, int height, int width) =>
        new() { Dim = 32, Heads = 2, Layers = 2, FfnDim = 64, FreqDim = 32, ContextDim = 16, ContextTokens = 2, Sources = sources, Frames = frames, Height = height, Width = width };

    /// <summary>A preset by name: "footage" (<see cref="Footage"/>) or "tiny" (<see cref="Tiny"/>).</summary>
    public static SmallVideoConfig Named(string name, string[] sources, int frames, int height, int width) => name.ToLowerInvariant() switch
    {
        "footage" => Footage(sources, frames, height, width),
        "tiny" => Tiny(sources, frames, height, width),
        _ => throw new ArgumentException($"Unknown small model '{name}' (expected footage or tiny)."),
    };

    /// <summary>The transformer's configuration.</summary>
    public WanConfig ToWan() => new()
    {
        Dim = Dim, Heads = Heads, Layers = Layers, FfnDim = FfnDim, FreqDim = FreqDim,
        TextDim = ContextDim, TextLength = ContextTokens, InDim = LatentChannels, OutDim = LatentChannels,
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that cannot work.</summary>
    public void Validate()
    {
        ToWan().Validate();
        if (SpatialFactor < 1) throw new ArgumentException($"Spatial factor must be at least 1 (got {SpatialFactor}).");
        if (ContextTokens < 1 || ContextDim < 1) throw new ArgumentException($"Conditioning needs at least one token of positive width (got {ContextTokens} x {ContextDim}).");
        if (Sources.Length == 0) throw new ArgumentException("A small video model needs at least one footage source.");
        var duplicate = Sources.GroupBy(s => s, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"Footage source '{duplicate.Key}' appears twice (names are matched without case).");
        if (Sources.Any(string.IsNullOrWhiteSpace)) throw new ArgumentException("Footage source names must not be empty: the empty prompt selects the unconditional entry.");
        if (!(Fps > 0) || double.IsInfinity(Fps)) throw new ArgumentException($"Frame rate must be a finite positive number (got {Fps}).");
        ValidateSize(Frames, Height, Width);
    }

    /// <summary>Throws <see cref="ArgumentException"/> when videos of this size do not fit the latent and token grid.</summary>
    public void ValidateSize(int frames, int height, int width)
    {
        if (frames < 1) throw new ArgumentException($"Frame count must be at least 1 (got {frames}).");
        if (height < PixelsPerToken || width < PixelsPerToken || height % PixelsPerToken != 0 || width % PixelsPerToken != 0)
            throw new ArgumentException($"Frame size {width}x{height} must be a positive multiple of {PixelsPerToken}x{PixelsPerToken} pixels (spatial factor {SpatialFactor} x patch 2).");
    }
}
