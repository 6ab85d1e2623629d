using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Video;

/// <summary>
/// The frame layout every reader returns and every writer takes: RGB uint8 [F, H, W, 3] on the CPU, and the
/// conversion from a model's output.
/// </summary>
public static class VideoFrames
{
    /// <summary>
    /// RGB uint8 frames [F, H, W, 3] (contiguous, CPU, a new tensor) from a video in one of the layouts models
    /// produce: float [F, H, W, 3] or [1, 3, F, H, W] in [-1, 1] (any floating type, any device; values outside
    /// are clamped, then rounded to the nearest of the 256 levels), or uint8 [F, H, W, 3] (copied).
    /// </summary>
    /// <exception cref="ArgumentException">Another layout or type, an empty video, or NaN or infinity in a float video.</exception>
    public static Tensor ToUInt8(Tensor video)
    {
        using var scope = NewDisposeScope();
        if (video.dtype == ScalarType.Byte)
        {
            Validate(video, "video");
            return video.to(CPU).contiguous().clone().MoveToOuterDisposeScope();
        }
        if (!video.is_floating_point())
            throw new ArgumentException($"A video must be float in [-1, 1] or uint8; got {video.dtype} {Shape(video)}.");
        Tensor framesLast = video.dim() switch
        {
            4 when video.shape[3] == 3 => video,
            5 when video.shape[0] == 1 && video.shape[1] == 3 => video[0].permute(1, 2, 3, 0),
            _ => throw new ArgumentException($"A float video must be [F, H, W, 3] or [1, 3, F, H, W]; got {Shape(video)}."),
        };
        if (framesLast.numel() == 0) throw new ArgumentException($"The video is empty: {Shape(video)}.");
        var values = framesLast.to(ScalarType.Float32).to(CPU);
        if (!values.isfinite().all().item<bool>()) throw new ArgumentException($"The video {Shape(video)} holds NaN or infinity.");
        return ((values.clamp(-1, 1) + 1) * 127.5).round_().to(ScalarType.Byte).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The models' input layout from RGB uint8 frames: [F, H, W, 3] gives [1, 3, F, H, W] and clips [N, F, H, W, 3]
    /// (a <c>ClipDataset</c>'s) give [N, 3, F, H, W], with values x / 127.5 - 1 in [-1, 1], of type
    /// <paramref name="dtype"/>, on the frames' device. <see cref="ToUInt8"/> maps the result back exactly.
    /// </summary>
    /// <exception cref="ArgumentException">The frames are not uint8 with 3 channels last in 4 or 5 dimensions, or <paramref name="dtype"/> is not floating.</exception>
    public static Tensor ToModelInput(Tensor frames, ScalarType dtype = ScalarType.Float32)
    {
        if (frames.dtype != ScalarType.Byte || frames.dim() is not (4 or 5) || frames.shape[^1] != 3)
            throw new ArgumentException($"Frames must be RGB uint8 [F, H, W, 3] or clips [N, F, H, W, 3]; got {frames.dtype} {Shape(frames)}.");
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"The model input type must be floating; got {dtype}.");
        using var scope = NewDisposeScope();
        var clips = frames.dim() == 4 ? frames.unsqueeze(0) : frames;
        return (clips.permute(0, 4, 1, 2, 3).to(ScalarType.Float32) / 127.5 - 1).to(dtype).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Throws unless <paramref name="frames"/> is uint8 [F, H, W, 3] with at least one frame and pixel.</summary>
    /// <exception cref="ArgumentException">The tensor has another type or shape; the message names it as <paramref name="name"/>.</exception>
    public static void Validate(Tensor frames, string name)
    {
        if (frames.dtype != ScalarType.Byte || frames.dim() != 4 || frames.shape[3] != 3)
            throw new ArgumentException($"{name} must be RGB uint8 frames [F, H, W, 3]; got {frames.dtype} {Shape(frames)}.");
        if (frames.numel() == 0) throw new ArgumentException($"{name} is empty: {Shape(frames)}.");
    }

    internal static string Shape(Tensor tensor) => $"[{string.Join(", ", tensor.shape)}]";
}
