namespace Svg2.Configuration;

/// <summary>
/// The model geometries of the specification (its tables 3.3 and 3.4), by name. Cluster counts are the
/// reference's: QC 300 for Wan at 720p, 200 for Wan at 480p, 400 and 200 for HunyuanVideo at 720p and
/// 480p, 400 for Cosmos; KC 1000 throughout.
/// </summary>
public static class ModelGeometries
{
    const int HeadDim = 128;
    const int KeyClusters = 1000;
    const int HunyuanTextTokens = 256;

    /// <summary>Wan 2.1 T2V 14B, 720x1280, 81 frames: 21x45x80 = 75,600 tokens.</summary>
    public static ModelGeometry Wan14B720p { get; } = new("wan-14b-720p", "Wan 2.1 T2V 14B, 720x1280, 81 frames",
        Heads: 40, HeadDim, Layers: 40, LatentFrames: 21, TokensHigh: 45, TokensWide: 80, TextTokens: 0, QueryClusters: 300, KeyClusters);

    /// <summary>Wan 2.1 I2V 14B, square input at 720p (960x960), 81 frames: 21x60x60 = 75,600 tokens.</summary>
    public static ModelGeometry WanI2V720p { get; } = new("wan-i2v-720p", "Wan 2.1 I2V 14B, 960x960 (square input at 720p), 81 frames",
        Heads: 40, HeadDim, Layers: 40, LatentFrames: 21, TokensHigh: 60, TokensWide: 60, TextTokens: 0, QueryClusters: 300, KeyClusters);

    /// <summary>Wan 2.1 I2V 14B, square input at 480p (624x624), 81 frames: 21x39x39 = 31,941 tokens.</summary>
    public static ModelGeometry WanI2V480p { get; } = new("wan-i2v-480p", "Wan 2.1 I2V 14B, 624x624 (square input at 480p), 81 frames",
        Heads: 40, HeadDim, Layers: 40, LatentFrames: 21, TokensHigh: 39, TokensWide: 39, TextTokens: 0, QueryClusters: 200, KeyClusters);

    /// <summary>
    /// Wan 2.1 T2V 1.3B, 480x832, 81 frames: 21x30x52 = 32,760 tokens. The reference has no Wan T2V 480p
    /// configuration; its Wan configuration at 480p (I2V, 31,941 tokens) uses QC 200, and so does this one.
    /// </summary>
    public static ModelGeometry Wan1_3B480p { get; } = new("wan-1.3b-480p", "Wan 2.1 T2V 1.3B, 480x832, 81 frames",
        Heads: 12, HeadDim, Layers: 30, LatentFrames: 21, TokensHigh: 30, TokensWide: 52, TextTokens: 0, QueryClusters: 200, KeyClusters);

    /// <summary>HunyuanVideo T2V 13B, 720x1280, 129 frames: 33x45x80 = 118,800 video rows + 256 text rows.</summary>
    public static ModelGeometry Hunyuan720p { get; } = new("hunyuan-720p", "HunyuanVideo T2V 13B, 720x1280, 129 frames",
        Heads: 24, HeadDim, Layers: 60, LatentFrames: 33, TokensHigh: 45, TokensWide: 80, HunyuanTextTokens, QueryClusters: 400, KeyClusters);

    /// <summary>HunyuanVideo T2V 13B, 480x720, 129 frames: 33x30x45 = 44,550 video rows + 256 text rows.</summary>
    public static ModelGeometry Hunyuan480p { get; } = new("hunyuan-480p", "HunyuanVideo T2V 13B, 480x720, 129 frames",
        Heads: 24, HeadDim, Layers: 60, LatentFrames: 33, TokensHigh: 30, TokensWide: 45, HunyuanTextTokens, QueryClusters: 200, KeyClusters);

    /// <summary>Cosmos-1.0 Diffusion 14B Text2World, 704x1280, 121 frames: 16x44x80 = 56,320 tokens.</summary>
    public static ModelGeometry Cosmos720p { get; } = new("cosmos-720p", "Cosmos-1.0 Diffusion 14B Text2World, 704x1280, 121 frames",
        Heads: 40, HeadDim, Layers: 36, LatentFrames: 16, TokensHigh: 44, TokensWide: 80, TextTokens: 0, QueryClusters: 400, KeyClusters);

    /// <summary>Every geometry.</summary>
    public static IReadOnlyList<ModelGeometry> All { get; } = [Wan1_3B480p, Wan14B720p, WanI2V720p, WanI2V480p, Hunyuan720p, Hunyuan480p, Cosmos720p];

    /// <summary>The geometry with this name (case-insensitive), or null.</summary>
    public static ModelGeometry? Find(string name) =>
        All.FirstOrDefault(g => string.Equals(g.Name, name, StringComparison.OrdinalIgnoreCase));
}
