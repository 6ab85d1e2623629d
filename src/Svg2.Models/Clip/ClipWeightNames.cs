namespace Svg2.Models.Clip;

/// <summary>Which tensor names a CLIP checkpoint uses.</summary>
public enum ClipWeightNames
{
    /// <summary>The official open-clip state dict of Wan 2.1 (models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth): the vision tower under <c>visual.</c>, beside the text tower.</summary>
    Official,

    /// <summary>transformers' CLIPVisionModel (or CLIPVisionModelWithProjection) names under <c>vision_model.</c>, as diffusers' image_encoder/ holds them.</summary>
    Transformers,
}
