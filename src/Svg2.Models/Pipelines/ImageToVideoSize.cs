namespace Svg2.Models.Pipelines;

/// <summary>
/// The video size of Wan 2.1 image to video: the image's aspect ratio at a maximum area (wan/image2video.py),
/// each side rounded down to whole tokens.
/// </summary>
public static class ImageToVideoSize
{
    /// <summary>
    /// Width and height for an image of <paramref name="imageWidth"/> x <paramref name="imageHeight"/> at
    /// about <paramref name="maxArea"/> pixels: with r = height / width, each latent side is
    /// floor(floor(sqrt(area r) / stride) / patch) patch for the height and the same with area / r for the
    /// width, in pixels times the stride, as the public code computes them.
    /// </summary>
    /// <param name="imageWidth">Image width in pixels.</param>
    /// <param name="imageHeight">Image height in pixels.</param>
    /// <param name="maxArea">Pixels of the video frame at most (1280 x 720 or 832 x 480 for Wan).</param>
    /// <param name="stride">The VAE's spatial compression (8).</param>
    /// <param name="patch">The transformer's spatial patch (2).</param>
    /// <exception cref="ArgumentException">A value is not positive, or the aspect ratio is so extreme that a side would be empty.</exception>
    public static (int Width, int Height) For(int imageWidth, int imageHeight, long maxArea, int stride, int patch)
    {
        if (imageWidth < 1 || imageHeight < 1 || maxArea < 1 || stride < 1 || patch < 1)
            throw new ArgumentException($"Image {imageWidth}x{imageHeight}, area {maxArea}, stride {stride} and patch {patch} must all be positive.");
        double aspect = (double)imageHeight / imageWidth;
        long Side(double pixels) => (long)Math.Floor(Math.Floor(pixels / stride) / patch) * patch * stride;
        long height = Side(Math.Sqrt(maxArea * aspect)), width = Side(Math.Sqrt(maxArea / aspect));
        if (height < 1 || width < 1)
            throw new ArgumentException($"An image of {imageWidth}x{imageHeight} at {maxArea} pixels gives a {width}x{height} video: its aspect ratio is too extreme for {stride * patch}-pixel tokens.");
        return (checked((int)width), checked((int)height));
    }
}
