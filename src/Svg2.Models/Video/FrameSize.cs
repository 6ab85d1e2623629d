using System.Globalization;

namespace Svg2.Models.Video;

/// <summary>A frame size in pixels, written height first as in the [F, H, W, 3] frame layout ("96x160": 96 rows of 160 pixels).</summary>
public readonly record struct FrameSize(int Height, int Width)
{
    /// <summary>Parses "HxW" (for example "480x832").</summary>
    /// <exception cref="ArgumentException">The text is not two positive integers joined by 'x'.</exception>
    public static FrameSize Parse(string text)
    {
        var parts = text.Split('x', StringSplitOptions.TrimEntries);
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int height)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int width) && height > 0 && width > 0)
            return new FrameSize(height, width);
        throw new ArgumentException($"A frame size is HxW with positive integers (for example 96x160); got '{text}'.");
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Height}x{Width}";
}
