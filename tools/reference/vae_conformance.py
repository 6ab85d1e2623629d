"""Conformance driver for the Wan 2.1 VAE: runs the public VAE next to `svg2 conformance vae`.

`prepare` loads wan/modules/vae.py from a checkout (--wan-repo) by file path, builds the public WanVAE_
with the architecture of the public `_video_vae` (base width 96 unless --base-dim says otherwise) and
random weights rounded to bf16 values, writes the weights under the official names, a random latent
and a random video, and the outputs of the public WanVAE wrapper (its normalisation, autocast and
clamp) in float32 (TF32 off) and in bf16. `compare` prints the relative Frobenius error of our outputs
against a reference file as one markdown row, and exits 1 above the bound.

vae.py needs only torch and einops; nothing is downloaded and the public code is not changed.
"""

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformance_common import (add_compare_command, compare_columns, install_cuda_amp_alias,  # noqa: E402
                                load_wan_module, randomize, strict_float32)

# The public _video_vae configuration (wan/modules/vae.py) with WanVAE's z_dim.
ARCHITECTURE = dict(z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                    temperal_downsample=[False, True, True], dropout=0.0)
SEED = 20261127
KEYS = ("decoded", "encoded")


def load_public_vae_module(wan_repo, torch):
    """Imports wan/modules/vae.py by file path (see conformance_common.load_wan_module)."""
    install_cuda_amp_alias(torch)
    return load_wan_module(wan_repo, "vae")


def randomize_weights(model, torch):
    """Every parameter random (the public init zeroes the attention projections and sets every gamma to
    one, which would hide those paths), then rounded to bf16 values so that the bf16 and float32 runs
    use the same numbers. The decoder's last convolution is drawn smaller so that the output mostly
    stays inside the [-1, 1] clamp, where errors remain visible."""
    generator = torch.Generator().manual_seed(SEED)

    def fill(name, p):
        if name.endswith("gamma"):
            value = 1.0 + 0.1 * torch.randn(p.shape, generator=generator)
        elif name.endswith("bias"):
            value = 0.02 * torch.randn(p.shape, generator=generator)
        else:
            value = torch.randn(p.shape, generator=generator) / math.sqrt(p[0].numel())
            if name == "decoder.head.2.weight":
                value *= 0.5
        p.copy_(value)
    randomize(model.named_parameters(), fill, torch)


def public_wrapper(module, model, dtype, device):
    """The public WanVAE around our randomised model: WanVAE.__init__ builds its model through the
    module's _video_vae(pretrained_path, z_dim), which would read a checkpoint; for the duration of the
    construction it hands back `model` instead. Everything else (mean, std, autocast, clamp) is the
    public wrapper's."""
    original = module._video_vae
    module._video_vae = lambda pretrained_path=None, z_dim=None, device="cpu", **kwargs: model
    try:
        return module.WanVAE(z_dim=ARCHITECTURE["z_dim"], vae_pth=None, dtype=dtype, device=device)
    finally:
        module._video_vae = original


def prepare(args):
    import torch
    from safetensors.torch import save_file
    strict_float32(torch)
    module = load_public_vae_module(args.wan_repo, torch)
    os.makedirs(args.out, exist_ok=True)
    cuda = args.device == "cuda"

    model = module.WanVAE_(dim=args.base_dim, **ARCHITECTURE).eval().requires_grad_(False)
    randomize_weights(model, torch)
    model = model.to(args.device)
    weights = {name: t.detach().float().cpu().contiguous() for name, t in model.state_dict().items()}
    save_file(weights, os.path.join(args.out, "vae.safetensors"))

    if (args.frames - 1) % 4 or args.height % 8 or args.width % 8:
        raise SystemExit("--frames must be 1 + 4n and --height, --width multiples of 8")
    generator = torch.Generator().manual_seed(SEED + 1)
    latent_shape = (1, ARCHITECTURE["z_dim"], (args.frames - 1) // 4 + 1, args.height // 8, args.width // 8)
    inputs = {
        "latents": torch.randn(latent_shape, generator=generator),
        "video": torch.rand((1, 3, args.frames, args.height, args.width), generator=generator) * 2 - 1,
    }
    save_file(inputs, os.path.join(args.out, "inputs.safetensors"))
    print(f"weights: {len(weights)} tensors; latents {tuple(latent_shape)}; video {tuple(inputs['video'].shape)}")

    precisions = [("fp32", torch.float32), ("bf16", torch.bfloat16)]
    if not cuda:
        print("the public wrapper's bf16 runs under CUDA autocast: on the CPU only the float32 reference is written")
        precisions = precisions[:1]
    for precision, dtype in precisions:
        vae = public_wrapper(module, model, dtype, args.device)
        results = {}
        for key, step, value in (("decoded", vae.decode, inputs["latents"]), ("encoded", vae.encode, inputs["video"])):
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            with torch.no_grad():
                out = step([value[0].to(args.device)])[0]
            if cuda:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            peak = f", peak allocated {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if cuda else ""
            print(f"public {precision} {key}: {tuple(out.shape)} in {seconds:.2f} s{peak}")
            results[key] = out.unsqueeze(0).float().cpu().contiguous()
        path = os.path.join(args.out, f"reference-{precision}.safetensors")
        save_file(results, path)
        print(f"wrote {path}")


def compare(args):
    # Columns: decoded, encoded.
    compare_columns(args, lambda reference: {key: [(key, key)] for key in KEYS})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare", help="write weights, inputs and the public VAE's reference outputs")
    p.add_argument("--wan-repo", required=True, help="folder holding wan/modules/vae.py")
    p.add_argument("--out", required=True)
    p.add_argument("--frames", type=int, default=17, help="video frames, 1 + 4n (17: 5 latent frames)")
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=832)
    p.add_argument("--base-dim", type=int, default=96, help="96 for Wan 2.1; smaller for quick checks")
    p.add_argument("--device", default="cuda")
    p.set_defaults(run=prepare)
    add_compare_command(commands, compare, bound_default=None,
                        help_text="relative Frobenius error of decoded and encoded; exit 1 above the bound")
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
