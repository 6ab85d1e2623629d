"""Times the peers of the SVG2 sparse attention kernel on one GPU: dense SDPA (PyTorch's default
dispatch, and the cuDNN and flash backends forced) and FlexAttention block-sparse attention with
128 x 128 blocks at a random block mask of each density, for the shapes `svg2 bench --device cuda`
times. Written from PyTorch's public API documentation; it downloads nothing.

"% of ideal" is computed as docs/cuda-performance.md defines it for the SVG2 kernel
(DensityPoint.PercentOfIdeal): density x dense time / sparse time, where the dense time is PyTorch's
default SDPA dispatch (what `svg2 bench` times) measured in the same run, and the density is the
fraction of the S x S score matrix the mask computes (exact: a last, partial block counts only its
real rows and columns).

Mask construction (the same for every run with the same --seed): for each density, a CPU
torch.Generator seeded with seed + round(1000 x density) draws, for every (head, 128-row query block)
independently, round(density x KB) distinct key blocks (at least one) uniformly at random out of the
KB = ceil(S / 128) key blocks: the first that many of a uniform random permutation (argsort of
uniform draws), sorted ascending. Every selected block is a "full" FlexAttention block (no mask_mod
inside it); nothing else is computed.

Inputs: B = 1, q, k, v ~ N(0, 1) in bf16, [1, H, S, D] contiguous, drawn on the GPU from a seeded
generator. Times: CUDA events around each call, --warmup untimed calls first (they include
compilation), the median of --iterations timed calls.
"""

import argparse
import contextlib
import csv
import json
import math
import statistics

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.flex_attention import BlockMask, flex_attention

from cuda_timing import cuda_event_times

# The shapes of BenchmarkShape.Presets (src/Svg2.Evaluation/Benchmarks/BenchmarkShape.cs, from
# src/Svg2/Configuration/ModelGeometries.cs): heads and S = latent frames x height x width tokens,
# plus HunyuanVideo's 256 text rows. D = 128 throughout.
SHAPES = {
    "wan-14b-720p": dict(heads=40, tokens=21 * 45 * 80, description="Wan 2.1 T2V 14B, 720x1280, 81 frames"),
    "wan-1.3b-480p": dict(heads=12, tokens=21 * 30 * 52, description="Wan 2.1 T2V 1.3B, 480x832, 81 frames"),
    "hunyuan-720p": dict(heads=24, tokens=33 * 45 * 80 + 256, description="HunyuanVideo T2V 13B, 720x1280, 129 frames, 118,800 video + 256 text rows"),
}
HEAD_DIM = 128
BLOCK = 128
DENSITIES = (0.10, 0.15, 0.20, 0.30)
DENSE_BACKENDS = {"default": None, "cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION}


def time_ms(call, warmup, iterations):
    """Median milliseconds of `call` over `iterations` CUDA-event timings after `warmup` untimed calls."""
    return statistics.median(cuda_event_times(call, warmup, iterations))


def random_block_mask(heads, tokens, density, seed, device):
    """The selected key blocks of every (head, query block): ([H, QB] counts, [H, QB, KB] sorted indices first), and the exact density."""
    blocks = math.ceil(tokens / BLOCK)
    kept = max(1, round(density * blocks))
    generator = torch.Generator().manual_seed(seed + round(1000 * density))
    chosen = torch.rand(heads, blocks, blocks, generator=generator).argsort(dim=-1)[..., :kept].sort(dim=-1).values
    indices = torch.zeros(heads, blocks, blocks, dtype=torch.int32)
    indices[..., :kept] = chosen.to(torch.int32)
    counts = torch.full((heads, blocks), kept, dtype=torch.int32)
    # Exact density: rows of each query block x columns of each selected key block, over S x S.
    sizes = torch.full((blocks,), BLOCK, dtype=torch.float64)
    sizes[-1] = tokens - BLOCK * (blocks - 1)
    selected_columns = sizes[chosen].sum(dim=-1)                       # [H, QB]
    exact = float((selected_columns * sizes).sum() / (heads * float(tokens) ** 2))
    return counts.to(device), indices.to(device), chosen, exact


def flex_block_mask(counts, indices, tokens):
    """A FlexAttention BlockMask whose selected blocks are all full blocks (no mask_mod inside them)."""
    heads, blocks = counts.shape
    no_partial = torch.zeros(1, heads, blocks, dtype=torch.int32, device=counts.device)
    no_partial_indices = torch.zeros(1, heads, blocks, blocks, dtype=torch.int32, device=counts.device)
    return BlockMask.from_kv_blocks(no_partial, no_partial_indices, counts.unsqueeze(0), indices.unsqueeze(0),
                                    BLOCK_SIZE=BLOCK, seq_lengths=(tokens, tokens))


def check_rows(q, k, v, output, chosen, tokens):
    """Largest relative error of the sparse output on the first and the last query block of the first and
    last head, against float32 attention over exactly the selected keys."""
    worst = 0.0
    blocks = math.ceil(tokens / BLOCK)
    for head in {0, q.shape[1] - 1}:
        for block in {0, blocks - 1}:
            rows = slice(block * BLOCK, min(tokens, (block + 1) * BLOCK))
            keys = torch.cat([torch.arange(b * BLOCK, min(tokens, (b + 1) * BLOCK)) for b in chosen[head, block].tolist()]).to(q.device)
            scores = (q[0, head, rows].float() @ k[0, head, keys].float().T) / math.sqrt(HEAD_DIM)
            expected = torch.softmax(scores, dim=-1) @ v[0, head, keys].float()
            error = (output[0, head, rows].float() - expected).norm() / expected.norm()
            worst = max(worst, float(error))
    return worst


def bench_shape(name, args, compiled_flex):
    shape = SHAPES[name]
    heads, tokens = shape["heads"], shape["tokens"]
    generator = torch.Generator(device="cuda").manual_seed(args.seed)
    q, k, v = (torch.randn(1, heads, tokens, HEAD_DIM, generator=generator, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    rows = []
    dense = {}
    for backend, kind in DENSE_BACKENDS.items():
        try:
            with contextlib.nullcontext() if kind is None else sdpa_kernel([kind]):
                dense[backend] = time_ms(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v), args.warmup, args.iterations)
        except RuntimeError as error:
            print(f"{name}: dense SDPA ({backend}) unavailable: {str(error).splitlines()[0]}")
            continue
        rows.append(dict(shape=name, method=f"dense SDPA ({backend})", target_density=1.0, density=1.0, ms=dense[backend],
                         dense_ms=None, percent_of_ideal=None, relative_error=None))
    reference = dense["default"]
    for row in rows:
        row["dense_ms"] = reference
    for target in args.densities:
        counts, indices, chosen, density = random_block_mask(heads, tokens, target, args.seed, q.device)
        mask = flex_block_mask(counts, indices, tokens)
        sparse_ms = time_ms(lambda: compiled_flex(q, k, v, block_mask=mask), args.warmup, args.iterations)
        error = check_rows(q, k, v, compiled_flex(q, k, v, block_mask=mask), chosen, tokens) if args.check else None
        rows.append(dict(shape=name, method="FlexAttention 128x128 blocks", target_density=target, density=density, ms=sparse_ms,
                         dense_ms=reference, percent_of_ideal=density * reference / sparse_ms, relative_error=error))
        del mask, counts, indices
    del q, k, v
    torch.cuda.empty_cache()
    return rows


def print_table(rows):
    print("| shape | method | density | ms | dense default (ms) | % of ideal | rel. error (checked rows) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        ideal = "" if row["percent_of_ideal"] is None else f"{100 * row['percent_of_ideal']:.0f}%"
        error = "" if row["relative_error"] is None else f"{row['relative_error']:.1e}"
        print(f"| {row['shape']} | {row['method']} | {100 * row['density']:.1f}% | {row['ms']:.2f} | {row['dense_ms']:.2f} | {ideal} | {error} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=["wan-14b-720p", "hunyuan-720p", "wan-1.3b-480p"])
    parser.add_argument("--densities", nargs="+", type=float, default=list(DENSITIES))
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-autotune", action="store_true", help='compile FlexAttention with mode="max-autotune-no-cudagraphs"')
    parser.add_argument("--no-check", dest="check", action="store_false", help="skip the float32 check of four query blocks per density")
    parser.add_argument("--json", help="write the rows and the run's setup as JSON")
    parser.add_argument("--csv", help="write the rows as CSV")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("peer_attention_bench.py needs a CUDA GPU.")
    if any(not 0 < d <= 1 for d in args.densities) or args.iterations < 1 or args.warmup < 0:
        raise SystemExit("densities must be in (0, 1], --iterations at least 1 and --warmup at least 0.")

    compiled_flex = torch.compile(flex_attention, mode="max-autotune-no-cudagraphs" if args.max_autotune else None)
    setup = dict(device=torch.cuda.get_device_name(), torch=torch.__version__, cuda=torch.version.cuda,
                 cudnn=torch.backends.cudnn.version(), head_dim=HEAD_DIM, block=BLOCK, seed=args.seed,
                 iterations=args.iterations, warmup=args.warmup, max_autotune=args.max_autotune, statistic="median")
    print(json.dumps(setup))
    rows = []
    for name in args.shapes:
        shape = SHAPES[name]
        print(f"{name}: {shape['description']}; H {shape['heads']}, S {shape['tokens']:,}, D {HEAD_DIM}")
        rows.extend(bench_shape(name, args, compiled_flex))
    print_table(rows)
    if args.json:
        with open(args.json, "w") as file:
            json.dump(dict(setup=setup, shapes={n: SHAPES[n] for n in args.shapes}, rows=rows), file, indent=2)
    if args.csv:
        with open(args.csv, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
