namespace Svg2.Evaluation.Workloads;

/// <summary>
/// The segmentation of a latent video: every video token belongs to one background region or to the
/// front-most moving object that covers it. Segments are what semantic heads attend along, and what
/// k-means on keys can recover and position blocks cannot.
/// </summary>
internal sealed class VideoScene
{
    private VideoScene(int[] segments, int backgroundRegions, int objects)
    {
        Segments = segments;
        BackgroundRegions = backgroundRegions;
        Objects = objects;
    }

    /// <summary>Segment id of every video token, frame-major (t, h, w). Ids [0, BackgroundRegions) are
    /// background regions, the rest objects.</summary>
    public int[] Segments { get; }

    /// <summary>Number of background regions.</summary>
    public int BackgroundRegions { get; }

    /// <summary>Number of moving objects.</summary>
    public int Objects { get; }

    /// <summary>All segments.</summary>
    public int SegmentCount => BackgroundRegions + Objects;

    /// <summary>
    /// Draws a scene: a few background regions (a Voronoi partition of the frame that pans slowly, as a
    /// moving camera does) and several elliptic objects that move at constant velocity, drawn in
    /// index order so later objects occlude earlier ones.
    /// </summary>
    public static VideoScene Sample(VideoShape shape, Random random)
    {
        const int backgroundRegions = 4;
        int objects = shape.TokensPerFrame >= 256 ? 6 : 3;
        double aspect = (double)shape.Width / shape.Height;

        var seeds = new (double Y, double X)[backgroundRegions];
        for (int r = 0; r < backgroundRegions; r++)
            seeds[r] = (random.NextDouble(), random.NextDouble() * aspect);
        var pan = (Y: Uniform(random, -0.1, 0.1) / shape.Frames, X: Uniform(random, -0.2, 0.2) / shape.Frames);

        var bodies = new (double Y, double X, double RadiusY, double RadiusX, double VelocityY, double VelocityX)[objects];
        for (int o = 0; o < objects; o++)
        {
            double radiusY = Uniform(random, 0.08, 0.2);
            bodies[o] = (
                Uniform(random, 0.15, 0.85),
                Uniform(random, 0.15, 0.85) * aspect,
                radiusY,
                radiusY * Uniform(random, 0.7, 1.5),
                Uniform(random, -0.3, 0.3) / shape.Frames,
                Uniform(random, -0.5, 0.5) * aspect / shape.Frames);
        }

        var segments = new int[shape.VideoTokens];
        int token = 0;
        for (int t = 0; t < shape.Frames; t++)
        {
            for (int h = 0; h < shape.Height; h++)
            {
                double y = (h + 0.5) / shape.Height;
                for (int w = 0; w < shape.Width; w++, token++)
                {
                    double x = (w + 0.5) / shape.Height;
                    int segment = NearestSeed(seeds, y + pan.Y * t, x + pan.X * t);
                    for (int o = 0; o < objects; o++)
                    {
                        var b = bodies[o];
                        double dy = (y - b.Y - b.VelocityY * t) / b.RadiusY;
                        double dx = (x - b.X - b.VelocityX * t) / b.RadiusX;
                        if (dy * dy + dx * dx <= 1.0) segment = backgroundRegions + o;
                    }

                    segments[token] = segment;
                }
            }
        }

        return new VideoScene(segments, backgroundRegions, objects);
    }

    private static int NearestSeed((double Y, double X)[] seeds, double y, double x)
    {
        int best = 0;
        double bestDistance = double.MaxValue;
        for (int r = 0; r < seeds.Length; r++)
        {
            double distance = (seeds[r].Y - y) * (seeds[r].Y - y) + (seeds[r].X - x) * (seeds[r].X - x);
            if (distance < bestDistance)
            {
                bestDistance = distance;
                best = r;
            }
        }

        return best;
    }

    private static double Uniform(Random random, double low, double high) => low + (high - low) * random.NextDouble();
}
