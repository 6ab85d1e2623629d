namespace Svg2.Models.Vae;

/// <summary>What a <see cref="VaeResample"/> does (the public <c>Resample</c>'s modes).</summary>
public enum VaeResampleMode
{
    /// <summary>Doubles height and width, halves the channels.</summary>
    Upsample2d,

    /// <summary>As <see cref="Upsample2d"/>, and every frame after the video's first becomes two.</summary>
    Upsample3d,

    /// <summary>Halves height and width.</summary>
    Downsample2d,

    /// <summary>As <see cref="Downsample2d"/>, and frames after the video's first are halved in number.</summary>
    Downsample3d,
}
