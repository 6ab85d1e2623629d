"""Writes tiny Wan 2.1 transformers with diffusers' own save_pretrained, to check the diffusers name mapping.

    python3 tools/reference/make_wan_diffusers_fixture.py --out fixtures/wan-diffusers

Needs PyTorch and diffusers (no GPU, no download). For text to video and image to video it builds a
WanTransformer3DModel of width 24 (2 heads of 12), FFN 40, frequency width 16, text width 20, CLIP width 12,
2 blocks, with seeded random weights, and saves it as diffusers does (OUT/t2v/transformer/config.json and
diffusion_pytorch_model.safetensors, the same under OUT/i2v/), with names.json listing every tensor name and
shape. The C# side must read each config.json as the matching WanConfig and load each safetensors file into
a WanModel of that configuration with no tensor left over or missing (WanCheckpoint.Load).
"""
import argparse, json, os

import torch
from diffusers import WanTransformer3DModel


def tiny(image):
    return dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=9 if image else 4,
                out_channels=4, text_dim=20, freq_dim=16, ffn_dim=40, num_layers=2, cross_attn_norm=True,
                qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=12 if image else None,
                added_kv_proj_dim=24 if image else None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    out = parser.parse_args().out
    for name, image in [("t2v", False), ("i2v", True)]:
        torch.manual_seed(5)
        model = WanTransformer3DModel(**tiny(image))
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.copy_(torch.randn_like(parameter) * 0.3)
        folder = os.path.join(out, name, "transformer")
        model.save_pretrained(folder, safe_serialization=True)
        names = {k: list(v.shape) for k, v in model.state_dict().items()}
        json.dump(names, open(os.path.join(out, name, "names.json"), "w"), indent=1)
        print(name, len(names), "tensors ->", folder)


if __name__ == "__main__":
    main()
