"""What the conformance drivers share: loading public Wan modules by path, the SDPA stand-in for the public
flash-attention call, strict float32, random weights rounded to bf16 values, and the markdown row of relative
errors with its bound.

Nothing here downloads anything or changes the public code.
"""

import importlib.util
import math
import os
import sys
import types


def strict_float32(torch):
    """Float32 matmuls and convolutions in float32 (TF32 off), as the float32 references run."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def install_cuda_amp_alias(torch):
    """The public modules use the older torch.cuda.amp.autocast spelling; where a PyTorch no longer has
    it, an alias to torch.amp.autocast("cuda", ...) stands in."""
    if hasattr(torch.cuda, "amp") and hasattr(torch.cuda.amp, "autocast"):
        return
    amp = types.ModuleType("torch.cuda.amp")
    amp.autocast = lambda enabled=True, dtype=None, cache_enabled=True: torch.amp.autocast(
        "cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)
    torch.cuda.amp = amp
    sys.modules["torch.cuda.amp"] = amp


def load_wan_module(wan_repo, name, stand_ins=None):
    """Imports wan/modules/<name>.py of a checkout by file path as wan.modules.<name>, under stand-in `wan`
    and `wan.modules` packages so that neither package's __init__.py (which pulls in every model and the
    pipelines) runs. `stand_ins` maps sibling module names (e.g. "tokenizers") to modules put in their
    place before the import; siblings already imported are reused."""
    modules_dir = os.path.join(os.path.abspath(wan_repo), "wan", "modules")
    for package_name, path in (("wan", os.path.dirname(modules_dir)), ("wan.modules", modules_dir)):
        if package_name not in sys.modules:
            package = types.ModuleType(package_name)
            package.__path__ = [path]
            sys.modules[package_name] = package
    for sibling, module in (stand_ins or {}).items():
        sys.modules["wan.modules." + sibling] = module
    full = "wan.modules." + name
    if full in sys.modules:
        return sys.modules[full]
    spec = importlib.util.spec_from_file_location(full, os.path.join(modules_dir, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    spec.loader.exec_module(module)
    return module


def sdpa_flash_attention(torch):
    """A stand-in for attention.py's flash_attention(q, k, v, q_lens, k_lens, ...), q [B, Lq, H, D],
    on torch SDPA. It computes in v's dtype: float32 for the float32 reference, bf16 under autocast
    (where the public function would also cast to bf16 for the flash kernel)."""
    def flash_attention(q, k, v, q_lens=None, k_lens=None, dropout_p=0.0, softmax_scale=None, q_scale=None,
                        causal=False, window_size=(-1, -1), deterministic=False, dtype=None, version=None):
        if q_lens is not None or q_scale is not None or causal or dropout_p or tuple(window_size) != (-1, -1):
            raise NotImplementedError("The SDPA stand-in covers only the calls WanModel and the CLIP vision tower make.")
        out_dtype = q.dtype
        q, k = q.to(v.dtype), k.to(v.dtype)
        mask = None
        if k_lens is not None and bool((k_lens.cpu() < k.size(1)).any()):
            positions = torch.arange(k.size(1), device=k.device)
            mask = (positions[None, :] < k_lens.to(k.device)[:, None])[:, None, None, :]
        x = torch.nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask, scale=softmax_scale)
        return x.transpose(1, 2).contiguous().to(out_dtype)
    return flash_attention


def randomize(named_parameters, fill, torch):
    """Fills each parameter in place with fill(name, parameter) (the driver's scales and generator), then
    rounds it to bf16 values, so that the float32 and bf16 runs use the same numbers."""
    with torch.no_grad():
        for name, p in named_parameters:
            fill(name, p)
            p.copy_(p.to(torch.bfloat16).float())


def relative_error(ours, reference, torch):
    """||ours - reference|| / ||reference|| (Frobenius), in float64."""
    ours, reference = ours.double(), reference.double()
    return (torch.linalg.vector_norm(ours - reference) / torch.linalg.vector_norm(reference)).item()


def add_compare_command(commands, run, bound_default=1e-4, help_text="relative Frobenius errors, one markdown row; exit 1 above the bound"):
    """The `compare` subcommand every driver has: --reference, --ours, --bound, --label. Without a bound
    (bound_default None and none given) the row is information only."""
    c = commands.add_parser("compare", help=help_text)
    c.add_argument("--reference", required=True)
    c.add_argument("--ours", required=True)
    c.add_argument("--bound", type=float, default=bound_default,
                   help="fail above this" + ("" if bound_default is not None else "; without it the row is information only"))
    c.add_argument("--label", help="row label (default: the file name of --ours)")
    c.set_defaults(run=run)
    return c


def compare_columns(args, columns):
    """Loads --reference and --ours, computes for each column the worst relative error over its
    (our key, reference key) pairs, prints `| label | e1 | e2 | ... | bound |` and exits 1 when a column is
    above --bound (NaN counts as above). A missing key or a shape mismatch ends the run with a message."""
    import torch
    from safetensors.torch import load_file
    reference = load_file(args.reference)
    ours = load_file(args.ours)
    errors = {}
    for column, pairs in columns(reference).items():
        column_errors = []
        for our_key, reference_key in pairs:
            for key, tensors, path in ((our_key, ours, args.ours), (reference_key, reference, args.reference)):
                if key not in tensors:
                    raise SystemExit(f"{path} has no tensor {key}")
            if ours[our_key].shape != reference[reference_key].shape:
                raise SystemExit(f"{our_key}: ours {tuple(ours[our_key].shape)}, reference {tuple(reference[reference_key].shape)}")
            column_errors.append(relative_error(ours[our_key], reference[reference_key], torch))
        # NaN, the worst possible outcome, must survive max().
        errors[column] = math.nan if any(math.isnan(e) for e in column_errors) else max(column_errors)
    label = args.label or os.path.basename(args.ours)
    bound = f"{args.bound:g}" if args.bound is not None else "(information)"
    print(f"| {label} | " + " | ".join(f"{e:.1e}" for e in errors.values()) + f" | {bound} |")
    if args.bound is not None:
        failed = [k for k, e in errors.items() if not e <= args.bound]
        if failed:
            print(f"FAILED: {', '.join(failed)} above {args.bound:g}", file=sys.stderr)
            sys.exit(1)
