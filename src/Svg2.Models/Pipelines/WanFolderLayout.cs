namespace Svg2.Models.Pipelines;

/// <summary>How a Wan 2.1 model folder is laid out, which also decides the tensor names of each component.</summary>
public enum WanFolderLayout
{
    /// <summary>
    /// The official release (Wan-AI/Wan2.1-T2V-1.3B and siblings): config.json and the DiT's safetensors at
    /// the top, the umT5 encoder, VAE and CLIP as PyTorch .pth files under the names of the public Wan code,
    /// tokenizers in google/umt5-xxl/ and xlm-roberta-large/.
    /// </summary>
    Official,

    /// <summary>
    /// diffusers' save_pretrained layout (Wan-AI/Wan2.1-T2V-1.3B-Diffusers and siblings): model_index.json and
    /// one folder per component (transformer, text_encoder, tokenizer, vae, scheduler, and for image to
    /// video image_encoder and image_processor), all weights as safetensors under diffusers' and
    /// transformers' names.
    /// </summary>
    Diffusers,
}
