namespace Svg2.Models.Video;

/// <summary>How frames are brought to a requested size.</summary>
public enum FrameFit
{
    /// <summary>Scale to the size exactly; the aspect ratio changes when it differs.</summary>
    Stretch,

    /// <summary>Scale to cover the size, keeping the aspect ratio, then crop the centre.</summary>
    Cover,
}
