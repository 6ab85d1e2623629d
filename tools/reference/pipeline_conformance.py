"""Whole-pipeline conformance driver: the public Wan 2.1 text-to-video pipeline next to `svg2 generate`.

`prepare` writes a tiny but complete Wan 2.1 folder in the official layout (config.json, the transformer's
diffusion_pytorch_model.safetensors, models_t5_umt5-xxl-enc-bf16.pth, Wan2.1_VAE.pth, google/umt5-xxl/ with
the test tokenizer) with random weights, then runs the public pipeline on it: the public `WanT2V` class of
wan/text2video.py, unmodified, with its prompt cleaning, umT5 encoding (padded to 512 tokens), seeded
noise, UniPC solver, classifier-free guidance (conditional then unconditional forward), offload and VAE
decode, in float32 (TF32 off, T5 in float32) and as Wan runs it (bf16 autocast, T5 in bf16, the VAE in
float32 as WanT2V builds it). It writes the noise the pipeline drew (noise.safetensors, the input of
`svg2 generate --noise`) and, per precision, reference-{fp32,bf16}.safetensors with `noise`, the latents
after every step (`latents.{i}`), the final `latents` and the decoded `video` [1, 3, F, H, W].
`compare` prints the relative Frobenius error of each of those against `svg2 generate --save-tensors`'s
file as one markdown row, and exits 1 above the bound.

Sizes: 17 frames of 256x256 (latents [1, 16, 5, 32, 32], 1280 tokens), 4 steps, guidance 5, shift 5; the
transformer has 2 layers of width 256 (2 heads of 128, FFN 512) and takes 512-wide text; umT5 has 4 layers
of width 512 (8 heads, FFN 1280, 4096 ids); the VAE is Wan 2.1's at full size.

The public files are loaded by path under stand-in packages (no __init__.py runs); diffusers is replaced by
the stand-ins of pipeline_common.py, wan/distributed/fsdp.py (unused without FSDP) by an empty module, the
transformer's flash_attention by PyTorch SDPA (conformance_common.py), and t5.py's umt5_xxl factory by the same
factory at the reduced size. ftfy, regex and tqdm are stood in where missing (the output says which).
Nothing is downloaded.
"""

import argparse
import contextlib
import json
import os
import shutil
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_common as common  # noqa: E402
from conformance_common import (add_compare_command, compare_columns, install_cuda_amp_alias,  # noqa: E402
                                load_wan_module, sdpa_flash_attention, strict_float32)

DIT = dict(model_type="t2v", patch_size=[1, 2, 2], text_len=512, in_dim=16, dim=256, ffn_dim=512, freq_dim=256,
           text_dim=512, out_dim=16, num_heads=2, num_layers=2, window_size=[-1, -1], qk_norm=True,
           cross_attn_norm=True, eps=1e-6)
T5 = dict(vocab_size=4096, dim=512, dim_attn=512, dim_ffn=1280, num_heads=8, encoder_layers=4, decoder_layers=4)
FRAMES, HEIGHT, WIDTH = 17, 256, 256
STEPS, GUIDANCE, SHIFT, SEED = 4, 5.0, 5.0, 20261205
# Runs of spaces and an HTML entity exercise the prompt cleaning. ftfy.fix_text and its identity stand-in give the same
# cleaned prompt: the only thing ftfy would change here, the entity, basic_clean's html.unescape changes anyway.
PROMPT = "  A red kite  flies over a grey sea &amp; a sandy beach, seen from a moving boat.  "
NEGATIVE = "blurry, low quality, static, distorted hands, watermark"
T5_FILE = "models_t5_umt5-xxl-enc-bf16.pth"
VAE_FILE = "Wan2.1_VAE.pth"
TOKENIZER = "google/umt5-xxl"


def load_public(wan_repo, torch):
    """The public text2video module and the modules it builds on, loaded by path with the stand-ins."""
    stood_in = common.install_optional_stand_ins()
    common.install_diffusers_stand_in(torch)
    install_cuda_amp_alias(torch)
    for name in ("attention", "model", "tokenizers", "t5", "vae"):
        load_wan_module(wan_repo, name)
    sys.modules["wan.modules.model"].flash_attention = sdpa_flash_attention(torch)
    t5 = sys.modules["wan.modules.t5"]
    full_size = t5.umt5_xxl
    t5.umt5_xxl = lambda **kwargs: full_size(**dict(T5, **kwargs))
    common.load_by_path(wan_repo, "wan.utils.fm_solvers")
    common.load_by_path(wan_repo, "wan.utils.fm_solvers_unipc")
    # wan/distributed/fsdp.py serves only FSDP sharding, which a one-GPU run never asks for.
    distributed = types.ModuleType("wan.distributed")
    distributed.__path__ = []
    fsdp = types.ModuleType("wan.distributed.fsdp")
    fsdp.shard_model = lambda module, **kwargs: module
    sys.modules.update({"wan.distributed": distributed, "wan.distributed.fsdp": fsdp})
    text2video = common.load_by_path(wan_repo, "wan.text2video")
    if stood_in:
        print(f"stand-ins for missing packages: {', '.join(stood_in)}")
    return text2video


def write_folder(out, repo_root, torch):
    """Random weights in the official layout, with the test tokenizer as google/umt5-xxl."""
    import umt5_conformance
    import vae_conformance
    import wan_conformance
    from safetensors.torch import save_file
    model_module = sys.modules["wan.modules.model"]
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(dict(_class_name="WanModel", _diffusers_version="0.30.0", **DIT), f, indent=2)
    dit = model_module.WanModel(**DIT).cuda().float().eval()
    wan_conformance.randomize_weights(dit, torch)
    save_file({k: v.detach().to(torch.bfloat16).cpu().contiguous() for k, v in dit.state_dict().items()},
              os.path.join(out, "diffusion_pytorch_model.safetensors"))
    del dit

    t5_module = sys.modules["wan.modules.t5"]
    encoder = t5_module.umt5_xxl(encoder_only=True, return_tokenizer=False, dtype=torch.float32, device="cuda").eval()
    umt5_conformance.randomize_weights(encoder, T5["dim"], T5["dim_attn"] // T5["num_heads"], torch)
    torch.save({k: v.detach().to(torch.bfloat16).cpu().contiguous() for k, v in encoder.state_dict().items()},
               os.path.join(out, T5_FILE))
    del encoder

    vae_module = sys.modules["wan.modules.vae"]
    vae = vae_module.WanVAE_(dim=96, **vae_conformance.ARCHITECTURE).eval()
    vae_conformance.randomize_weights(vae, torch)
    torch.save({k: v.detach().float().contiguous() for k, v in vae.state_dict().items()}, os.path.join(out, VAE_FILE))
    del vae

    tokenizer = os.path.join(out, TOKENIZER)
    os.makedirs(tokenizer, exist_ok=True)
    fixtures = os.path.join(repo_root, "tests", "data", "tokenizer")
    shutil.copy(os.path.join(fixtures, "unigram-hf", "tokenizer.json"), os.path.join(tokenizer, "tokenizer.json"))
    shutil.copy(os.path.join(fixtures, "unigram.model"), os.path.join(tokenizer, "spiece.model"))
    special = dict(eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    with open(os.path.join(tokenizer, "tokenizer_config.json"), "w") as f:
        json.dump(dict(tokenizer_class="T5Tokenizer", extra_ids=0, additional_special_tokens=[], model_max_length=512, **special), f, indent=2)
    with open(os.path.join(tokenizer, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=2)


def run_public(text2video, out, precision, torch):
    """WanT2V.generate on the folder; returns noise, latents after each step, final latents and video."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    fp32 = precision == "fp32"
    strict_float32(torch)
    # Wan leaves cuDNN's TF32 at PyTorch's default (on) for its float32 VAE; the float32 reference is strict.
    torch.backends.cudnn.allow_tf32 = not fp32
    dtype = torch.float32 if fp32 else torch.bfloat16
    config = types.SimpleNamespace(
        num_train_timesteps=1000, param_dtype=dtype, t5_dtype=dtype, text_len=512, t5_checkpoint=T5_FILE,
        t5_tokenizer=TOKENIZER, vae_checkpoint=VAE_FILE, vae_stride=(4, 8, 8), patch_size=(1, 2, 2),
        sample_neg_prompt=NEGATIVE)
    pipeline = text2video.WanT2V(config=config, checkpoint_dir=out, device_id=0, rank=0)

    captured = {}
    def first_input(module, args, kwargs):
        captured.setdefault("noise", args[0][0].detach().float().cpu().unsqueeze(0))
    hook = pipeline.model.register_forward_pre_hook(first_input, with_kwargs=True)
    solver = text2video.FlowUniPCMultistepScheduler
    public_step = solver.step
    steps = []
    def step(self, *args, **kwargs):
        result = public_step(self, *args, **kwargs)
        sample = result[0] if isinstance(result, tuple) else result.prev_sample
        steps.append(sample.detach().float().cpu())
        return result
    solver.step = step
    try:
        with torch.no_grad(), (sdpa_kernel(SDPBackend.MATH) if fp32 else contextlib.nullcontext()):
            video = pipeline.generate(PROMPT, size=(WIDTH, HEIGHT), frame_num=FRAMES, shift=SHIFT, sample_solver="unipc",
                                      sampling_steps=STEPS, guide_scale=GUIDANCE, n_prompt=NEGATIVE, seed=SEED, offload_model=True)
    finally:
        solver.step = public_step
        hook.remove()
    result = {"noise": captured["noise"].contiguous()}
    for i, latents in enumerate(steps):
        result[f"latents.{i}"] = latents.contiguous()
    result["latents"] = steps[-1].clone()  # safetensors refuses two names for one storage
    result["video"] = video.detach().float().cpu().unsqueeze(0).contiguous()
    del pipeline
    torch.cuda.empty_cache()
    return result


def prepare(args):
    import torch
    from safetensors.torch import save_file
    os.makedirs(args.out, exist_ok=True)
    text2video = load_public(args.wan_repo, torch)
    write_folder(args.out, args.repo, torch)
    noise = None
    for precision in ("fp32", "bf16"):
        result = run_public(text2video, args.out, precision, torch)
        if noise is None:
            noise = result["noise"]
            save_file({"noise": noise}, os.path.join(args.out, "noise.safetensors"))
        elif not torch.equal(noise, result["noise"]):
            raise SystemExit("the public pipeline drew different noise for the same seed in its two runs")
        path = os.path.join(args.out, f"reference-{precision}.safetensors")
        save_file(result, path)
        print(f"public pipeline {precision}: latents {tuple(result['latents'].shape)}, video {tuple(result['video'].shape)} "
              f"in [{result['video'].min():.3f}, {result['video'].max():.3f}]; wrote {path}")
    with open(os.path.join(args.out, "request.json"), "w") as f:
        json.dump(dict(prompt=PROMPT, negative_prompt=NEGATIVE, frames=FRAMES, width=WIDTH, height=HEIGHT, steps=STEPS,
                       guidance=GUIDANCE, shift=SHIFT), f, indent=2)


def compare(args):
    def columns(reference):
        steps = sorted((k for k in reference if k.startswith("latents.")), key=lambda k: int(k.split(".")[1]))
        keys = ["noise", *steps, "latents", "video"] if args.what == "all" else ["video"]
        return {key: [(key, key)] for key in keys}
    compare_columns(args, columns)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare", help="write the model folder and noise, run the public pipeline in float32 and bf16")
    p.add_argument("--wan-repo", required=True, help="folder holding wan/ of a Wan 2.1 checkout")
    p.add_argument("--out", required=True)
    p.add_argument("--repo", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."),
                   help="this project's checkout (for tests/data/tokenizer)")
    p.set_defaults(run=prepare)
    c = add_compare_command(commands, compare, bound_default=None)
    c.add_argument("--what", choices=("all", "video"), default="all",
                   help="all: noise, each step's latents, final latents and video; video: the decoded frames only")
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
