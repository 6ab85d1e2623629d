namespace Svg2.Configuration;

/// <summary>The numerics of the k-means assignment's distance products.</summary>
public enum KMeansPrecision
{
    /// <summary>Points and centroids as given (bf16 on the GPU) with float32 products: the default.</summary>
    Input,

    /// <summary>
    /// The products x.c in FP8 E4M3 with float32 scales and accumulation (<see cref="Algorithm.Fp8Distances"/>): both
    /// sides centred on the starting centroids' mean, points scaled per row, centroids per tile of
    /// <see cref="Algorithm.Fp8Distances.CentroidTileRows"/>. The means stay exact; only the choice of the nearest
    /// centroid can change, between centroids whose distances are close.
    /// </summary>
    Fp8,
}
