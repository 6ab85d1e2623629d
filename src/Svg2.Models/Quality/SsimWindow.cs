namespace Svg2.Models.Quality;

/// <summary>The 11x11 window SSIM's local statistics are averaged over.</summary>
public enum SsimWindow
{
    /// <summary>Uniform weights (average pooling), as the SVG2 reference's metric script computes SSIM; the default.</summary>
    Box,

    /// <summary>Gaussian weights with sigma 1.5 (Wang et al. 2004), for figures comparable with the usual SSIM.</summary>
    Gaussian,
}
