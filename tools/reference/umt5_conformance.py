"""Conformance driver: the public Wan 2.1 umT5 encoder and transformers' UMT5EncoderModel next to `svg2 conformance umt5`.

`prepare` builds the public encoder (wan/modules/t5.py of a checkout given by --wan-repo, unmodified) and
transformers' UMT5EncoderModel with the same random weights (rounded to bf16 values), for two sizes: 2 layers
at full width (dim 4096, FFN 10240, 64 heads) and 24 layers at reduced width (dim 512, FFN 1280, 8 heads),
both with a 4096-token vocabulary (the vocabulary size changes only the embedding table). It writes the
weights under both namings, token ids with masks, and both models' outputs in float32 (TF32 off) and bf16.
`compare` prints the relative Frobenius error of our outputs against a reference file. `tokenizer` writes the
T5TokenizerFast references of the tokenizer test data (tokenizer.json and ids) with Hugging Face tokenizers.

t5.py imports only torch and its sibling tokenizers.py (which pulls in ftfy and transformers' AutoTokenizer);
a stand-in for the latter keeps the encoder importable without them. Nothing is downloaded.
"""

import argparse
import json
import math
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformance_common import (add_compare_command, compare_columns, load_wan_module, randomize,  # noqa: E402
                                strict_float32)

SIZES = {
    # name: (dim, dim_attn, dim_ffn, heads, layers)
    "full-width-2-layers": (4096, 4096, 10240, 64, 2),
    "reduced-width-24-layers": (512, 512, 1280, 8, 24),
}
VOCAB = 4096
BUCKETS = 32
TEXT_LEN = 512
LENGTHS = (512, 300, 23)  # true tokens per prompt, end-of-sentence token included; the first fills the text length
SEED = 20261205


def load_public_t5(wan_repo):
    """Imports wan/modules/t5.py by path (see conformance_common.load_wan_module), with a stand-in for its
    tokenizers module."""
    tokenizers = types.ModuleType("wan.modules.tokenizers")
    tokenizers.HuggingfaceTokenizer = None  # the encoder never touches it
    return load_wan_module(wan_repo, "t5", stand_ins={"tokenizers": tokenizers})


def transformers_name(name):
    """transformers' UMT5EncoderModel name of an official parameter name (the map the C# side uses)."""
    if name == "token_embedding.weight":
        return "shared.weight"
    if name == "norm.weight":
        return "encoder.final_layer_norm.weight"
    _, layer, rest = name.split(".", 2)
    prefix = f"encoder.block.{layer}"
    return prefix + {
        "norm1.weight": ".layer.0.layer_norm.weight",
        "attn.q.weight": ".layer.0.SelfAttention.q.weight",
        "attn.k.weight": ".layer.0.SelfAttention.k.weight",
        "attn.v.weight": ".layer.0.SelfAttention.v.weight",
        "attn.o.weight": ".layer.0.SelfAttention.o.weight",
        "pos_embedding.embedding.weight": ".layer.0.SelfAttention.relative_attention_bias.weight",
        "norm2.weight": ".layer.1.layer_norm.weight",
        "ffn.gate.0.weight": ".layer.1.DenseReluDense.wi_0.weight",
        "ffn.fc1.weight": ".layer.1.DenseReluDense.wi_1.weight",
        "ffn.fc2.weight": ".layer.1.DenseReluDense.wo.weight",
    }[rest]


def randomize_weights(model, dim, head_dim, torch):
    """Random weights at scales that keep every part of the encoder at work (the public init makes the
    attention nearly uniform and the position bias negligible), rounded to bf16 values so that the float32
    and bf16 runs use the same numbers."""
    generator = torch.Generator(device="cuda").manual_seed(SEED)

    def fill(name, p):
        if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
            p.normal_(1.0, 0.1, generator=generator)
        elif "pos_embedding" in name:
            p.normal_(0.0, 0.5, generator=generator)
        elif name == "token_embedding.weight":
            p.normal_(0.0, 1.0, generator=generator)
        elif name.endswith("attn.q.weight"):
            # T5 does not scale scores by 1/sqrt(d): the query weights carry that factor.
            p.normal_(0.0, 1.0 / math.sqrt(dim * head_dim), generator=generator)
        else:
            p.normal_(0.0, 1.0 / math.sqrt(p.shape[1]), generator=generator)
    randomize(model.named_parameters(), fill, torch)


def make_inputs(torch):
    generator = torch.Generator().manual_seed(SEED + 1)
    ids = torch.zeros(len(LENGTHS), TEXT_LEN, dtype=torch.int64)
    mask = torch.zeros(len(LENGTHS), TEXT_LEN, dtype=torch.int64)
    for b, length in enumerate(LENGTHS):
        ids[b, :length - 1] = torch.randint(3, VOCAB, (length - 1,), generator=generator)
        ids[b, length - 1] = 1  # </s>
        mask[b, :length] = 1
    return {"ids": ids, "mask": mask}


def outputs(context, mask):
    """"output" and Wan's per-prompt slices "trimmed.{b}" ([u[:v] for u, v in zip(context, seq_lens)])."""
    result = {"output": context.float().cpu().contiguous()}
    for b, length in enumerate(mask.gt(0).sum(dim=1).tolist()):
        result[f"trimmed.{b}"] = context[b, :length].float().cpu().contiguous()
    return result


def prepare(args):
    import torch
    from safetensors.torch import save_file
    from transformers import UMT5Config, UMT5EncoderModel
    strict_float32(torch)
    t5 = load_public_t5(args.wan_repo)
    inputs = make_inputs(torch)
    for size in args.sizes:
        dim, dim_attn, dim_ffn, heads, layers = SIZES[size]
        out = os.path.join(args.out, size)
        os.makedirs(out, exist_ok=True)
        save_file(inputs, os.path.join(out, "inputs.safetensors"))

        with torch.device("cuda"):
            public = t5.T5Encoder(vocab=VOCAB, dim=dim, dim_attn=dim_attn, dim_ffn=dim_ffn, num_heads=heads,
                                  num_layers=layers, num_buckets=BUCKETS, shared_pos=False).float().eval()
        randomize_weights(public, dim, dim_attn // heads, torch)
        official = {n: p.detach().to(torch.bfloat16).cpu().contiguous() for n, p in public.state_dict().items()}
        save_file(official, os.path.join(out, "weights-official.safetensors"))

        config = UMT5Config(vocab_size=VOCAB, d_model=dim, d_kv=dim_attn // heads, d_ff=dim_ffn, num_layers=layers,
                            num_heads=heads, relative_attention_num_buckets=BUCKETS, relative_attention_max_distance=128,
                            dropout_rate=0.0, layer_norm_epsilon=1e-6, feed_forward_proj="gated-gelu")
        with torch.device("cuda"):
            hf = UMT5EncoderModel(config).float().eval()
        state = {transformers_name(n): p.float() for n, p in official.items()}
        if "encoder.embed_tokens.weight" in hf.state_dict():
            state["encoder.embed_tokens.weight"] = state["shared.weight"]
        missing, unexpected = hf.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise SystemExit(f"transformers model: missing {missing}, unexpected {unexpected}")
        # The state dict, with the tied encoder.embed_tokens.weight where transformers lists it.
        save_file({n: t.detach().to(torch.bfloat16).cpu().contiguous() for n, t in hf.state_dict().items()},
                  os.path.join(out, "weights-transformers.safetensors"))

        ids, mask = inputs["ids"].cuda(), inputs["mask"].cuda()
        for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            with torch.no_grad():
                public.to(dtype)
                save_file(outputs(public(ids, mask), mask), os.path.join(out, f"reference-{precision}.safetensors"))
                hf.to(dtype)
                context = hf(input_ids=ids, attention_mask=mask).last_hidden_state
                save_file(outputs(context, mask), os.path.join(out, f"transformers-{precision}.safetensors"))
        print(f"{size}: wrote weights, inputs and the public and transformers outputs (fp32, bf16) to {out}")
        del public, hf
        torch.cuda.empty_cache()


def compare(args):
    def columns(reference):
        prompts = sorted(int(k.split(".")[1]) for k in reference if k.startswith("trimmed."))
        # Columns: output, worst trimmed prompt, worst unpadded prompt.
        return {"output": [("output", "output")],
                "trimmed": [(f"trimmed.{b}", f"trimmed.{b}") for b in prompts],
                "unpadded": [(f"unpadded.{b}", f"trimmed.{b}") for b in prompts]}
    compare_columns(args, columns)


def tokenizer(args):
    """For every SentencePiece model in --data: the tokenizer.json that transformers' T5Converter writes for
    T5TokenizerFast (Unigram without byte fallback; Precompiled, right Strip and Replace(" {2,}", "▁")
    normalizers; Metaspace prepending "▁"; "$A </s>"), built here with the tokenizers library because
    transformers 5 no longer converts a bare spiece.model, saved as <name>-hf/tokenizer.json; and its ids for
    the strings of expected.json, in expected-hf.json (the C# tests compare against t5_tokenizer_fast)."""
    import tokenizers as hf
    from tokenizers import Regex, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    try:
        from sentencepiece import sentencepiece_model_pb2
    except ImportError as error:
        raise SystemExit(f"reading a SentencePiece model needs sentencepiece with protobuf: {error}")
    strings = json.load(open(os.path.join(args.data, "expected.json"), encoding="utf-8"))["strings"]
    expected = {"source": f"Hugging Face tokenizers {hf.__version__} (Python) on a tokenizer.json written as "
                          "transformers' T5Converter writes it for T5TokenizerFast(vocab_file, extra_ids=0)",
                "strings": strings, "models": {}}
    for name in ("unigram", "unigram-bytefallback"):
        proto = sentencepiece_model_pb2.ModelProto()
        proto.ParseFromString(open(os.path.join(args.data, name + ".model"), "rb").read())
        pieces = [(p.piece, p.score) for p in proto.pieces]
        eos = next(i for i, (piece, _) in enumerate(pieces) if piece == "</s>")
        tok = hf.Tokenizer(Unigram(pieces, unk_id=proto.trainer_spec.unk_id, byte_fallback=False))
        tok.normalizer = normalizers.Sequence([normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap),
                                               normalizers.Strip(left=False, right=True),
                                               normalizers.Replace(Regex(" {2,}"), "\u2581")])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
        tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
        tok.post_processor = processors.TemplateProcessing(single=["$A", "</s>"], pair=["$A", "</s>", "$B", "</s>"],
                                                           special_tokens=[("</s>", eos)])
        tok.add_special_tokens([hf.AddedToken(t, normalized=False, special=True) for t in ("<pad>", "</s>", "<unk>")])
        os.makedirs(os.path.join(args.data, name + "-hf"), exist_ok=True)
        tok.save(os.path.join(args.data, name + "-hf", "tokenizer.json"), pretty=False)
        expected["models"][name] = {"t5_tokenizer_fast": [tok.encode(s).ids for s in strings]}
    json.dump(expected, open(os.path.join(args.data, "expected-hf.json"), "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    print(f"wrote expected-hf.json and the -hf/tokenizer.json files to {args.data} ({expected['source']})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare", help="write weights, inputs and the public and transformers outputs")
    p.add_argument("--wan-repo", required=True, help="folder holding wan/modules/t5.py")
    p.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=list(SIZES))
    p.add_argument("--out", required=True)
    p.set_defaults(run=prepare)
    add_compare_command(commands, compare)
    t = commands.add_parser("tokenizer", help="T5TokenizerFast references for the tokenizer test data (needs tokenizers, sentencepiece, protobuf)")
    t.add_argument("--data", required=True, help="folder with unigram.model, unigram-bytefallback.model and expected.json")
    t.set_defaults(run=tokenizer)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
