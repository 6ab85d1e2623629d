using Svg2.Algorithm;
using Svg2.Backends;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Methods;

/// <summary>
/// The static local-window baseline (the SVG1-style spatial-temporal locality pattern): the grid is
/// cut into tiles of about 16 tokens (one frame deep, 4 x 4), and each query tile attends every key tile
/// within a box of tile radii around it. The budget parameter, the extent in [0, 1], sets each
/// radius to floor(extent x (tiles along that axis - 1)), so extent 1 is dense attention.
/// </summary>
/// <param name="Grid">The token grid of the sequence.</param>
/// <param name="Backend">Stage implementations; the reference when null.</param>
public sealed record LocalWindowMethod(TokenGrid Grid, ISvg2Backend? Backend = null) : IAttentionMethod
{
    const int TargetTileTokens = 16;
    const int MaxTileSide = 4;

    /// <inheritdoc/>
    public string Name => "window";

    /// <summary>Tile size along (frames, height, width).</summary>
    public (int Frames, int Height, int Width) Tile
    {
        get
        {
            int height = Math.Min(Grid.Height, MaxTileSide);
            int width = Math.Min(Grid.Width, Math.Max(MaxTileSide, TargetTileTokens / height));
            return (1, height, width);
        }
    }

    /// <inheritdoc/>
    public IPreparedAttention Prepare(Tensor q, Tensor k, Tensor v)
    {
        if (Grid.Tokens != q.shape[1])
            throw new ArgumentException($"The grid {Grid.Frames}x{Grid.Height}x{Grid.Width} holds {Grid.Tokens} tokens; the inputs have {q.shape[1]}.");
        return new Prepared(this, q, k, v);
    }

    sealed class Prepared : IPreparedAttention
    {
        readonly ISvg2Backend backend;
        readonly Tensor q, k, v, labels, tileT, tileH, tileW;
        readonly int[] tiles;

        public Prepared(LocalWindowMethod method, Tensor q, Tensor k, Tensor v)
        {
            (this.q, this.k, this.v) = (q, k, v);
            backend = method.Backend ?? ReferenceBackend.Instance;
            var grid = method.Grid;
            var tile = method.Tile;
            tiles = [Ceil(grid.Frames, tile.Frames), Ceil(grid.Height, tile.Height), Ceil(grid.Width, tile.Width)];
            using var scope = NewDisposeScope();
            var position = grid.Coordinates(q.device);
            var t = position[.., 0].div(tile.Frames, rounding_mode: RoundingMode.floor);
            var h = position[.., 1].div(tile.Height, rounding_mode: RoundingMode.floor);
            var w = position[.., 2].div(tile.Width, rounding_mode: RoundingMode.floor);
            labels = ((t * tiles[1] + h) * tiles[2] + w).unsqueeze(0).expand(q.shape[0], -1).contiguous().MoveToOuterDisposeScope();
            var tileIndex = arange((long)tiles[0] * tiles[1] * tiles[2], ScalarType.Int64, q.device);
            tileT = tileIndex.div((long)tiles[1] * tiles[2], rounding_mode: RoundingMode.floor).MoveToOuterDisposeScope();
            tileH = tileIndex.div(tiles[2], rounding_mode: RoundingMode.floor).remainder(tiles[1]).MoveToOuterDisposeScope();
            tileW = tileIndex.remainder(tiles[2]).MoveToOuterDisposeScope();
        }

        static int Ceil(int a, int b) => (a + b - 1) / b;

        public string? ParameterName => "extent";
        public (double Min, double Max) ParameterRange => (0, 1);

        public ISparsityPattern Plan(double parameter)
        {
            using var scope = NewDisposeScope();
            var within = Near(tileT, Radius(parameter, tiles[0])) & Near(tileH, Radius(parameter, tiles[1])) & Near(tileW, Radius(parameter, tiles[2]));
            var mask = within.unsqueeze(0).expand(q.shape[0], -1, -1).contiguous();
            return new BlockSparsity(labels.alias(), labels.alias(), mask).MoveToOuterDisposeScope();
        }

        static long Radius(double extent, int count) => (long)Math.Floor(Math.Clamp(extent, 0, 1) * (count - 1) + 1e-9);

        static Tensor Near(Tensor coordinate, long radius) => (coordinate.unsqueeze(1) - coordinate.unsqueeze(0)).abs() <= radius;

        public Tensor Attend(ISparsityPattern pattern) => backend.Attend(q, k, v, (BlockSparsity)pattern);

        public void Dispose()
        {
            foreach (var t in new[] { labels, tileT, tileH, tileW }) t.Dispose();
        }
    }
}
