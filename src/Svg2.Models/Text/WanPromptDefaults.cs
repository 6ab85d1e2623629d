namespace Svg2.Models.Text;

/// <summary>The text settings of Wan 2.1's public configuration (wan/configs/shared_config.py).</summary>
public static class WanPromptDefaults
{
    /// <summary>Tokens a prompt is padded or truncated to (the end-of-sentence token included).</summary>
    public const int TextLength = 512;

    /// <summary>
    /// The negative prompt Wan 2.1 samples with when none is given (Chinese, as published). It asks the
    /// model to avoid, among others: garish colours, overexposure, static or blurred frames, subtitles,
    /// grey casts, worst and low quality, JPEG artefacts, ugly or deformed bodies, extra or fused fingers,
    /// badly drawn hands and faces, cluttered backgrounds, three legs, crowds and walking backwards.
    /// </summary>
    public const string NegativePrompt =
        "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，丑陋的，残缺的，" +
        "多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走";

    /// <summary>
    /// The negative prompt of Wan 2.1 image to video (wan/configs/wan_i2v_14B.py): "camera shake" (镜头晃动)
    /// before <see cref="NegativePrompt"/>.
    /// </summary>
    public const string ImageToVideoNegativePrompt = "镜头晃动，" + NegativePrompt;
}
