"""Times one Wan 2.1 attention block in plain PyTorch, as a new user would write it, for comparison
with `svg2 bench-model`.

Written from the public architecture description (not from any repository's code): bf16 weights and
a bf16 residual stream (norms and modulation in float32, gated residual adds in float32 then rounded),
q/k RMSNorm across the full width, real-valued 3D RoPE on interleaved pairs (head width 128 split as
44/42/42 real dimensions over frame/row/column, theta 10000), SDPA forced to the cuDNN backend,
cross-attention to 512 text tokens, GELU(tanh) feed-forward. Random weights and inputs.

"Everything but self-attention" is measured directly: the same block with the self-attention SDPA call
replaced by an opaque zero-cost stub (a custom op returning an uninitialised tensor of the output's
shape, so the compiler cannot drop the q/k/v work feeding it). SDPA alone is timed separately.
"""

import argparse
import copy
import json
import math
import statistics

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from cuda_timing import cuda_event_times

CONFIGS = {
    # dim, ffn, heads; the latent grid after the (1, 2, 2) patch: 81 frames through the VAE stride (4, 8, 8).
    "14b": dict(dim=5120, ffn=13824, heads=40, grid=(21, 45, 80), shape="720p"),
    "1.3b": dict(dim=1536, ffn=8960, heads=12, grid=(21, 30, 52), shape="480p"),
}
TEXT_TOKENS = 512
EPS = 1e-6
THETA = 10000.0
GIB = float(1 << 30)


@torch.library.custom_op("wanbench::attention_stub", mutates_args=())
def attention_stub(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Stands in for self-attention at no cost; opaque so that q, k and v are still computed."""
    return torch.empty_like(q)


@attention_stub.register_fake
def _(q, k, v):
    return torch.empty_like(q)


def sdpa(q, k, v):
    return F.scaled_dot_product_attention(q, k, v)


def rope_tables(grid, head_dim, device):
    """cos and sin [S, D/2] float32 for token (f, h, w): pairs split D/2 - 2 floor(D/6), floor(D/6),
    floor(D/6) between frame, row and column, each axis with frequencies theta^(-2j / its real width)."""
    pairs = head_dim // 2
    split = (pairs - 2 * (head_dim // 6), head_dim // 6, head_dim // 6)
    angles = []
    for axis, (n, size) in enumerate(zip(split, grid)):
        inv_freq = THETA ** (-torch.arange(n, dtype=torch.float64) * 2 / (2 * n))
        per_axis = torch.outer(torch.arange(size, dtype=torch.float64), inv_freq)
        shape = [1, 1, 1, n]
        shape[axis] = size
        angles.append(per_axis.view(shape).expand(*grid, n))
    angles = torch.cat(angles, dim=-1).reshape(-1, pairs)
    return angles.cos().float().to(device), angles.sin().float().to(device)


def apply_rope(x, cos, sin):
    """x [B, S, H, D] bf16, rotated in float32 on interleaved pairs (2j, 2j+1), returned as bf16."""
    pairs = x.float().unflatten(-1, (-1, 2))
    real, imag = pairs[..., 0], pairs[..., 1]
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    rotated = torch.stack((real * cos - imag * sin, real * sin + imag * cos), dim=-1)
    return rotated.flatten(-2).to(x.dtype)


def rms_norm(x, weight):
    """Across the full width (all heads together), computed in float32."""
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + EPS)).to(x.dtype) * weight


def modulated_norm(x, shift, scale):
    return (F.layer_norm(x.float(), (x.shape[-1],), eps=EPS) * (1 + scale) + shift).to(x.dtype)


class Attention(torch.nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (torch.nn.Linear(dim, dim) for _ in range(4))
        self.norm_q = torch.nn.Parameter(torch.ones(dim))
        self.norm_k = torch.nn.Parameter(torch.ones(dim))

    def forward(self, x, context, rope, attend):
        b = x.shape[0]
        q = rms_norm(self.q(x), self.norm_q).view(b, x.shape[1], self.heads, -1)
        k = rms_norm(self.k(context), self.norm_k).view(b, context.shape[1], self.heads, -1)
        v = self.v(context).view(b, context.shape[1], self.heads, -1)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        out = attend(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.o(out.transpose(1, 2).flatten(2))


class WanBlock(torch.nn.Module):
    """One block; `self_attend` is the self-attention kernel (SDPA or the stub)."""

    def __init__(self, dim, ffn, heads, self_attend):
        super().__init__()
        self.self_attend = self_attend
        self.modulation = torch.nn.Parameter(torch.randn(1, 6, dim) / math.sqrt(dim))
        self.self_attn = Attention(dim, heads)
        self.norm3 = torch.nn.LayerNorm(dim, eps=EPS)
        self.cross_attn = Attention(dim, heads)
        self.ffn = torch.nn.Sequential(torch.nn.Linear(dim, ffn), torch.nn.GELU(approximate="tanh"),
                                       torch.nn.Linear(ffn, dim))

    def forward(self, x, e, context, cos, sin):
        shift1, scale1, gate1, shift2, scale2, gate2 = (self.modulation.float() + e).chunk(6, dim=1)
        h = modulated_norm(x, shift1, scale1)
        y = self.self_attn(h, h, (cos, sin), self.self_attend)
        x = (x.float() + y * gate1).to(x.dtype)
        cross_in = F.layer_norm(x.float(), (x.shape[-1],), self.norm3.weight.float(), self.norm3.bias.float(),
                                EPS).to(x.dtype)
        x = x + self.cross_attn(cross_in, context, None, sdpa)
        y = self.ffn(modulated_norm(x, shift2, scale2))
        return (x.float() + y * gate2).to(x.dtype)


def randomize(module):
    """Linear weights normal * 0.02, biases zero, norm scales one: a sensible scale for timing."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.Linear):
                m.weight.normal_(0.0, 0.02)
                m.bias.zero_()


def time_ms(fn, warmup, iterations):
    """Median and mean of per-iteration CUDA-event times, after warm-up calls (compilation included)."""
    times = cuda_event_times(fn, warmup, iterations)
    return statistics.median(times), statistics.fmean(times)


def driver_used_bytes():
    torch.cuda.synchronize()
    free, total = torch.cuda.mem_get_info()
    return total - free


def run(args):
    torch.manual_seed(1234)
    device = torch.device("cuda")
    torch.zeros(1, device=device)  # the CUDA context, so that the baseline includes it as svg2's does
    before = driver_used_bytes()

    cfg = CONFIGS[args.model]
    dim, heads, grid = cfg["dim"], cfg["heads"], cfg["grid"]
    tokens = math.prod(grid)
    block = WanBlock(dim, cfg["ffn"], heads, sdpa)
    randomize(block)
    block = block.to(device, torch.bfloat16).eval()
    # The stub block shares every parameter with the real one: only the self-attention kernel differs.
    stub_block = copy.copy(block)
    stub_block.self_attend = attention_stub

    x = torch.randn(1, tokens, dim, device=device, dtype=torch.bfloat16)
    e = torch.randn(1, 6, dim, device=device) * 0.1
    context = torch.randn(1, TEXT_TOKENS, dim, device=device, dtype=torch.bfloat16)
    cos, sin = rope_tables(grid, dim // heads, device)

    modes = ["eager"] + (["default"] if args.compile else []) + (["max-autotune-no-cudagraphs"] if args.max_autotune else [])
    rows = []
    with torch.inference_mode(), sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        for mode in modes:
            torch.cuda.reset_peak_memory_stats()
            full, stub = block, stub_block
            if mode != "eager":
                torch._dynamo.reset()
                full = torch.compile(block, mode=mode, dynamic=False)
                stub = torch.compile(stub_block, mode=mode, dynamic=False)
            block_median, block_mean = time_ms(lambda: full(x, e, context, cos, sin), args.warmup, args.iterations)
            stub_median, _ = time_ms(lambda: stub(x, e, context, cos, sin), args.warmup, args.iterations)
            rows.append(dict(
                model=args.model, shape=cfg["shape"], tokens=tokens, mode=mode, iterations=args.iterations,
                block_ms=block_median, block_mean_ms=block_mean, block_without_self_attention_ms=stub_median,
                self_attention_share=(block_median - stub_median) / block_median,
                driver_memory_gib=(driver_used_bytes() - before) / GIB,
                peak_allocated_gib=torch.cuda.max_memory_allocated() / GIB))
        # Last, so that its inputs are not counted in the block's memory.
        qkv = [torch.randn(1, heads, tokens, dim // heads, device=device, dtype=torch.bfloat16) for _ in range(3)]
        sdpa_median, _ = time_ms(lambda: sdpa(*qkv), args.warmup, args.iterations)
    for r in rows:
        r["sdpa_alone_ms"] = sdpa_median

    print(f"### Wan block, {args.model} {cfg['shape']} (grid {'x'.join(map(str, grid))} = {tokens} tokens), "
          f"bf16, {torch.cuda.get_device_name()}, torch {torch.__version__}, cuDNN SDPA, median of {args.iterations}")
    print()
    print("| mode | block (ms) | block, self-attention stubbed (ms) | self-attention share | SDPA alone, eager (ms) "
          "| driver memory used (GiB) | peak allocated (GiB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['block_ms']:.2f} | {r['block_without_self_attention_ms']:.2f} | "
              f"{r['self_attention_share']:.1%} | {r['sdpa_alone_ms']:.2f} | {r['driver_memory_gib']:.2f} | "
              f"{r['peak_allocated_gib']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device=torch.cuda.get_device_name(), torch=torch.__version__,
                           cudnn=torch.backends.cudnn.version(), rows=rows), f, indent=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(CONFIGS), default="14b")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first (compilation happens here)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                        help="also time under torch.compile (mode default)")
    parser.add_argument("--max-autotune", action="store_true",
                        help="also time under torch.compile(mode='max-autotune-no-cudagraphs')")
    parser.add_argument("--json", help="write the rows to this file")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
