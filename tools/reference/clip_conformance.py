"""Conformance driver for the CLIP vision tower of Wan 2.1 image to video: the public model next to `svg2 conformance clip`.

`prepare` builds the public CLIP (wan/modules/clip.py of a checkout given by --wan-repo, unmodified:
clip_xlm_roberta_vit_h_14, full size, ViT-H/14 at 224 pixels with 32 blocks of width 1280 and 16 heads, beside
its XLM-RoBERTa text tower) with random vision weights rounded to bf16 values. It writes the vision tower's
weights under the official names (visual.*; the text tower is left out, as `svg2` never reads it), a random
8-bit image of --height x --width as Wan reads it ([3, H, W] in [-1, 1]), and the outputs of the public
CLIPModel.visual (its bicubic resize to 224 x 224, its normalisation, its autocast, use_31_block=True) in float32
(TF32 off) and in bf16 (bf16 weights under bf16 autocast, as CLIPModel runs with dtype bf16): "pixels", the
preprocessed input, and "features", the output of the first 31 blocks. With transformers installed it also
writes the weights under transformers' CLIPVisionModel names, that model's config.json, and its
hidden_states[-2] (what diffusers' WanImageToVideoPipeline takes) on the same pixels in float32. `compare` prints
the relative Frobenius errors of pixels and features as one markdown row and exits 1 above the bound.

clip.py imports torchvision.transforms (only its Normalize runs here) and its sibling tokenizers.py (ftfy,
transformers' AutoTokenizer; the vision tower does not use it): stand-ins take their place where they are
missing. The flash-attention call is routed to PyTorch SDPA. Nothing is downloaded.
"""

import argparse
import math
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformance_common import (add_compare_command, compare_columns, install_cuda_amp_alias,  # noqa: E402
                                load_wan_module, randomize, sdpa_flash_attention, strict_float32)

SEED = 20261205
KEYS = ("pixels", "features")


def install_torchvision_stand_in(torch):
    """Where torchvision is missing, a stand-in for the torchvision.transforms names clip.py uses. Only
    Normalize runs (CLIPModel.visual applies transforms[-1]); it does what torchvision's does on a tensor:
    subtracts the mean and divides by the std per channel, in place, in the tensor's dtype. Returns whether
    the stand-in was installed."""
    try:
        import torchvision.transforms  # noqa: F401
        return False
    except ImportError:
        pass

    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

    class Normalize:
        def __init__(self, mean, std):
            self.mean, self.std = mean, std

        def __call__(self, tensor):
            mean = torch.as_tensor(self.mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
            std = torch.as_tensor(self.std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
            return tensor.sub_(mean).div_(std)

    class NotRun:
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, *args, **kwargs):
            raise NotImplementedError("CLIPModel.visual applies only the last transform (Normalize).")

    transforms = types.ModuleType("torchvision.transforms")
    transforms.Compose, transforms.Normalize, transforms.Resize, transforms.ToTensor = Compose, Normalize, NotRun, NotRun
    transforms.InterpolationMode = types.SimpleNamespace(BICUBIC="bicubic")
    package = types.ModuleType("torchvision")
    package.transforms = transforms
    sys.modules["torchvision"], sys.modules["torchvision.transforms"] = package, transforms
    return True


def load_public_clip(wan_repo, torch):
    """Imports wan/modules/clip.py by path (see conformance_common.load_wan_module) with a stand-in for its
    tokenizers module, and routes its flash_attention to SDPA."""
    install_cuda_amp_alias(torch)
    stand_in = install_torchvision_stand_in(torch)
    tokenizers = types.ModuleType("wan.modules.tokenizers")
    tokenizers.HuggingfaceTokenizer = None  # the vision tower never touches it
    clip = load_wan_module(wan_repo, "clip", stand_ins={"tokenizers": tokenizers})
    clip.flash_attention = sdpa_flash_attention(torch)
    return clip, stand_in


def randomize_weights(visual, torch):
    """Every vision parameter random at scales that keep the attention, the MLPs and the norms at work (the
    public init leaves LayerNorms at one and zero), rounded to bf16 values."""
    generator = torch.Generator(device="cuda").manual_seed(SEED)

    def fill(name, p):
        if name.endswith("norm.weight") or name.endswith("norm1.weight") or name.endswith("norm2.weight"):
            p.normal_(1.0, 0.1, generator=generator)
        elif name in ("cls_embedding", "pos_embedding"):
            p.normal_(0.0, 1.0, generator=generator)
        elif p.dim() == 1:
            p.normal_(0.0, 0.02, generator=generator)
        else:
            p.normal_(0.0, 1.0 / math.sqrt(p[0].numel()), generator=generator)
    randomize(visual.named_parameters(), fill, torch)


def make_image(height, width, torch):
    """A random 8-bit RGB image as Wan reads one: to_tensor ([0, 1]), then sub(0.5).div(0.5)."""
    generator = torch.Generator().manual_seed(SEED + 1)
    return torch.randint(0, 256, (3, height, width), generator=generator).float().div(255).sub(0.5).div(0.5)


def public_visual(clip, model, transforms, dtype, image, torch):
    """CLIPModel.visual of the public code on our model, with "pixels" captured as the tower receives them."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    holder = types.SimpleNamespace(model=model, transforms=transforms, dtype=dtype)
    captured = {}
    hook = model.visual.register_forward_pre_hook(lambda module, args: captured.__setitem__("pixels", args[0].float().cpu()))
    try:
        with torch.no_grad():
            if dtype == torch.float32:
                # The math backend with TF32 off keeps float32 attention in float32 throughout.
                with sdpa_kernel(SDPBackend.MATH):
                    features = clip.CLIPModel.visual(holder, [image.cuda()[:, None, :, :]])
            else:
                features = clip.CLIPModel.visual(holder, [image.cuda()[:, None, :, :]])
    finally:
        hook.remove()
    return {"pixels": captured["pixels"].contiguous(), "features": features.float().cpu().contiguous()}


def transformers_name(name):
    """transformers' CLIPVisionModel name of a vision parameter under visual. (q, k and v come from to_qkv)."""
    prefix = "vision_model."
    simple = {"patch_embedding.weight": "embeddings.patch_embedding.weight", "cls_embedding": "embeddings.class_embedding",
              "pos_embedding": "embeddings.position_embedding.weight", "pre_norm.weight": "pre_layrnorm.weight",
              "pre_norm.bias": "pre_layrnorm.bias", "post_norm.weight": "post_layernorm.weight", "post_norm.bias": "post_layernorm.bias"}
    if name in simple:
        return prefix + simple[name]
    _, layer, rest = name.split(".", 2)
    return f"{prefix}encoder.layers.{layer}." + {
        "norm1.weight": "layer_norm1.weight", "norm1.bias": "layer_norm1.bias",
        "norm2.weight": "layer_norm2.weight", "norm2.bias": "layer_norm2.bias",
        "attn.proj.weight": "self_attn.out_proj.weight", "attn.proj.bias": "self_attn.out_proj.bias",
        "mlp.0.weight": "mlp.fc1.weight", "mlp.0.bias": "mlp.fc1.bias",
        "mlp.2.weight": "mlp.fc2.weight", "mlp.2.bias": "mlp.fc2.bias",
    }[rest]


def transformers_reference(visual, pixels, out, torch):
    """transformers' CLIPVisionModel with the same weights: its state dict, config.json and hidden_states[-2]
    on the public pixels, float32. Skipped (with a note) where transformers is missing."""
    try:
        from transformers import CLIPVisionConfig, CLIPVisionModel
    except ImportError as error:
        print(f"transformers is not importable ({error}): no transformers reference written")
        return
    from safetensors.torch import save_file
    from torch.nn.attention import SDPBackend, sdpa_kernel
    config = CLIPVisionConfig(hidden_size=visual.dim, intermediate_size=int(visual.dim * visual.mlp_ratio), num_attention_heads=visual.num_heads,
                              num_hidden_layers=visual.num_layers, patch_size=visual.patch_size, image_size=visual.image_size,
                              hidden_act="gelu", layer_norm_eps=visual.norm_eps, projection_dim=visual.out_dim)
    with torch.device("cuda"):
        hf = CLIPVisionModel(config).float().eval()
    shapes = {n: t.shape for n, t in hf.state_dict().items()}
    # Published image_encoder folders (and transformers 4) name the tower's tensors "vision_model.*";
    # transformers 5's state dict leaves that prefix out. The weights file keeps the published names.
    published = "vision_model."
    local = (lambda n: n) if any(n.startswith(published) for n in shapes) else (lambda n: n[len(published):])
    state = {}
    for name, tensor in visual.state_dict().items():
        if name == "head":
            continue
        if ".attn.to_qkv." in name:
            layer, kind = name.split(".")[1], name.rsplit(".", 1)[1]
            for part, chunk in zip("qkv", tensor.chunk(3, 0)):
                state[local(f"vision_model.encoder.layers.{layer}.self_attn.{part}_proj.{kind}")] = chunk
        else:
            key = local(transformers_name(name))
            state[key] = tensor.reshape(shapes[key])
    missing, unexpected = hf.load_state_dict(state, strict=False)
    if [m for m in missing if not m.endswith("position_ids")] or unexpected:
        raise SystemExit(f"transformers model: missing {missing}, unexpected {unexpected}")
    save_file({(n if n.startswith(published) else published + n): t.detach().to(torch.bfloat16).cpu().contiguous()
               for n, t in hf.state_dict().items() if not n.endswith("position_ids")},
              os.path.join(out, "weights-transformers.safetensors"))
    hf.config.to_json_file(os.path.join(out, "config-transformers.json"))
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        hidden = hf(pixel_values=pixels.cuda(), output_hidden_states=True).hidden_states[-2]
    save_file({"pixels": pixels, "features": hidden.float().cpu().contiguous()}, os.path.join(out, "transformers-fp32.safetensors"))
    print("transformers CLIPVisionModel: wrote weights-transformers.safetensors, config-transformers.json, transformers-fp32.safetensors")
    del hf


def prepare(args):
    import torch
    from safetensors.torch import save_file
    strict_float32(torch)
    clip, stand_in = load_public_clip(args.wan_repo, torch)
    print("torchvision: " + ("stand-in Normalize (torchvision is not installed)" if stand_in else "installed"))
    os.makedirs(args.out, exist_ok=True)

    model, transforms = clip.clip_xlm_roberta_vit_h_14(pretrained=False, return_transforms=True, dtype=torch.float32, device="cuda")
    model = model.eval().requires_grad_(False)
    randomize_weights(model.visual, torch)
    weights = {"visual." + n: t.detach().to(torch.bfloat16).cpu().contiguous() for n, t in model.visual.state_dict().items()}
    save_file(weights, os.path.join(args.out, "weights-official.safetensors"))
    image = make_image(args.height, args.width, torch)
    save_file({"image": image}, os.path.join(args.out, "inputs.safetensors"))
    print(f"weights: {len(weights)} vision tensors (official names); image [3, {args.height}, {args.width}]")

    reference = public_visual(clip, model, transforms, torch.float32, image, torch)
    save_file(reference, os.path.join(args.out, "reference-fp32.safetensors"))
    print(f"public fp32: pixels {tuple(reference['pixels'].shape)}, features {tuple(reference['features'].shape)}")
    transformers_reference(model.visual, reference["pixels"], args.out, torch)
    model.to(torch.bfloat16)
    reference = public_visual(clip, model, transforms, torch.bfloat16, image, torch)
    save_file(reference, os.path.join(args.out, "reference-bf16.safetensors"))
    print(f"public bf16: features {tuple(reference['features'].shape)}; wrote everything to {args.out}")


def compare(args):
    # Columns: pixels, features.
    compare_columns(args, lambda reference: {key: [(key, key)] for key in KEYS})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare", help="write weights, an image and the public CLIP's reference outputs")
    p.add_argument("--wan-repo", required=True, help="folder holding wan/modules/clip.py")
    p.add_argument("--out", required=True)
    p.add_argument("--height", type=int, default=720, help="image height (a first frame of any size; Wan resizes it to 224)")
    p.add_argument("--width", type=int, default=1280)
    p.set_defaults(run=prepare)
    add_compare_command(commands, compare, bound_default=None,
                        help_text="relative Frobenius error of pixels and features; exit 1 above the bound")
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
