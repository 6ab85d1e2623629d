"""Conformance driver: runs the public Wan 2.1 PyTorch model next to `svg2 bench-model`.

`prepare` builds the public WanModel (imported from a checkout given by --wan-repo, unmodified) at full
width with a few layers and random weights rounded to bf16 values, writes the weights in the official
layout and the inputs, and writes the reference's block outputs and final output in float32 and under
bf16 autocast. `compare` prints the relative Frobenius error of our outputs against a reference file.

Only the public model.py and attention.py are needed; diffusers (imported by model.py for its
config mixins) is replaced by minimal stand-ins, and the flash-attention call is routed to PyTorch SDPA.
Nothing is downloaded.
"""

import argparse
import math
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformance_common import (add_compare_command, compare_columns, install_cuda_amp_alias,  # noqa: E402
                                load_wan_module, randomize, sdpa_flash_attention, strict_float32)

VARIANTS = {
    # The public configuration files (wan/configs/wan_*.py): width, FFN width, heads.
    "t2v-1.3B": dict(model_type="t2v", in_dim=16, dim=1536, ffn_dim=8960, num_heads=12),
    "t2v-14B": dict(model_type="t2v", in_dim=16, dim=5120, ffn_dim=13824, num_heads=40),
    "i2v-14B": dict(model_type="i2v", in_dim=36, dim=5120, ffn_dim=13824, num_heads=40),
}
SHARED = dict(patch_size=(1, 2, 2), text_len=512, freq_dim=256, text_dim=4096, out_dim=16,
              window_size=(-1, -1), qk_norm=True, cross_attn_norm=True, eps=1e-6)
LATENT = (16, 5, 24, 40)  # channels, frames, height, width: 5 x 12 x 20 = 1200 tokens after the patch
TEXT_TOKENS = 300
CLIP_TOKENS = 257
TIMESTEP = 937.0
SEED = 20261126


def install_diffusers_stand_in(torch):
    """model.py subclasses diffusers' ModelMixin/ConfigMixin only to save and load configs; plain
    stand-ins keep the module importable without diffusers."""
    class ModelMixin(torch.nn.Module):
        pass

    class ConfigMixin:
        pass

    def register_to_config(init):
        return init

    for name in ("diffusers", "diffusers.configuration_utils", "diffusers.models", "diffusers.models.modeling_utils"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["diffusers.configuration_utils"].ConfigMixin = ConfigMixin
    sys.modules["diffusers.configuration_utils"].register_to_config = register_to_config
    sys.modules["diffusers.models.modeling_utils"].ModelMixin = ModelMixin


def load_public_model_module(wan_repo):
    """Imports wan/modules/attention.py and model.py by file path (see conformance_common.load_wan_module)
    and routes the model's flash_attention to SDPA."""
    import torch
    install_diffusers_stand_in(torch)
    install_cuda_amp_alias(torch)
    load_wan_module(wan_repo, "attention")
    model_module = load_wan_module(wan_repo, "model")
    model_module.flash_attention = sdpa_flash_attention(torch)
    return model_module


def randomize_weights(model, torch):
    """Every parameter random (the public init zeroes the head, which would make the output zero),
    then rounded to bf16 values so that bf16 and float32 weights are the same numbers."""
    generator = torch.Generator(device="cuda").manual_seed(SEED)
    norms = {name for name, module in model.named_modules()
             if isinstance(module, torch.nn.LayerNorm) or type(module).__name__.endswith("RMSNorm")}

    def fill(name, p):
        owner, _, leaf = name.rpartition(".")
        if leaf == "modulation":
            p.normal_(generator=generator).div_(math.sqrt(p.shape[-1]))
        elif owner in norms and leaf == "weight":
            p.normal_(1.0, 0.1, generator=generator)
        elif p.dim() == 1:
            p.normal_(0.0, 0.02, generator=generator)
        else:
            p.normal_(0.0, 1.0 / math.sqrt(p[0].numel()), generator=generator)
    randomize(model.named_parameters(), fill, torch)


def make_inputs(variant, torch):
    """Inputs as `svg2 bench-model --inputs` reads them (float32, batch 1)."""
    generator = torch.Generator().manual_seed(SEED + 1)
    frames, height, width = LATENT[1:]
    inputs = {
        "latents": torch.randn(1, *LATENT, generator=generator),
        "timesteps": torch.tensor([TIMESTEP], dtype=torch.float32),
        "context": torch.randn(1, TEXT_TOKENS, SHARED["text_dim"], generator=generator),
    }
    if VARIANTS[variant]["model_type"] == "i2v":
        inputs["clip_fea"] = torch.randn(1, CLIP_TOKENS, 1280, generator=generator)
        inputs["y"] = torch.randn(1, VARIANTS[variant]["in_dim"] - LATENT[0], frames, height, width, generator=generator)
    return inputs


def reference_forward(model, inputs, bf16, torch):
    """One forward of the public model, returning block.{i} and output as float32 CPU tensors."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    captured = {}
    hooks = [block.register_forward_hook(
        lambda module, args, output, i=i: captured.__setitem__(f"block.{i}", output.float().cpu()))
        for i, block in enumerate(model.blocks)]
    cuda = {name: t.cuda() for name, t in inputs.items()}
    _, frames, height, width = LATENT
    seq_len = frames * (height // 2) * (width // 2)
    kwargs = dict(x=[u for u in cuda["latents"]], t=cuda["timesteps"], context=[u for u in cuda["context"]],
                  seq_len=seq_len)
    if "clip_fea" in cuda:
        kwargs.update(clip_fea=cuda["clip_fea"], y=[u for u in cuda["y"]])
    try:
        with torch.no_grad():
            if bf16:
                # Wan's pipelines run the model under bf16 autocast; SDPA then takes bf16 (the flash path).
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    output = model(**kwargs)
            else:
                # The math backend with TF32 off keeps float32 attention in float32 throughout.
                with sdpa_kernel(SDPBackend.MATH):
                    output = model(**kwargs)
    finally:
        for hook in hooks:
            hook.remove()
    captured["output"] = torch.stack(output).float().cpu()
    return captured


def prepare(args):
    import torch
    from safetensors.torch import save_file
    strict_float32(torch)
    model_module = load_public_model_module(args.wan_repo)
    os.makedirs(args.out, exist_ok=True)

    config = dict(SHARED, **VARIANTS[args.variant], num_layers=args.layers)
    model = model_module.WanModel(**config).cuda().float().eval()
    randomize_weights(model, torch)
    weights = {name: t.detach().to(torch.bfloat16).cpu().contiguous() for name, t in model.state_dict().items()}
    save_file(weights, os.path.join(args.out, "diffusion_pytorch_model.safetensors"))
    inputs = make_inputs(args.variant, torch)
    save_file(inputs, os.path.join(args.out, "inputs.safetensors"))

    for precision, bf16 in (("fp32", False), ("bf16", True)):
        results = reference_forward(model, inputs, bf16, torch)
        path = os.path.join(args.out, f"reference-{precision}.safetensors")
        save_file({k: v.contiguous() for k, v in results.items()}, path)
        print(f"{args.variant} {precision}: wrote {sorted(results)} to {path}")


def compare(args):
    # Columns: each block's output in order (block.0, block.1, ...), then the final output.
    def columns(reference):
        keys = sorted((k for k in reference if k.startswith("block.")), key=lambda k: int(k.split(".")[1])) + ["output"]
        return {key: [(key, key)] for key in keys}
    compare_columns(args, columns)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare", help="write weights, inputs and the public model's reference outputs")
    p.add_argument("--wan-repo", required=True, help="folder holding wan/modules/model.py and attention.py")
    p.add_argument("--variant", required=True, choices=sorted(VARIANTS))
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--out", required=True)
    p.set_defaults(run=prepare)
    add_compare_command(commands, compare, help_text="relative Frobenius error per tensor; exit 1 above the bound")
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
