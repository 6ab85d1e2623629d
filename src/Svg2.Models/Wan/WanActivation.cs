namespace Svg2.Models.Wan;

/// <summary>The activations Wan's small MLPs use between their two linear layers.</summary>
public enum WanActivation
{
    /// <summary>GELU with the tanh approximation (feed-forward, text embedding).</summary>
    GeluTanh,

    /// <summary>Exact GELU (image embedding).</summary>
    Gelu,

    /// <summary>SiLU (time embedding).</summary>
    Silu,
}
