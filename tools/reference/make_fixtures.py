"""Writes small test fixtures that only PyTorch and sentencepiece can make, for the C# tests.

    python3 tools/reference/make_fixtures.py --out fixtures --corpus README.md docs/*.md

- tokenizer/: SentencePiece unigram models trained on the given text (with and without byte fallback),
  and expected.json: for every test string, the ids and pieces of sentencepiece's encode (no </s>;
  the tokenizer Wan uses appends </s>, id 1). transformers 5 builds its T5 tokenizers from
  tokenizer.json files, not from a bare sentencepiece model, so sentencepiece itself is the reference.
- pth/: files written by torch.save (zip format): a state dict of every dtype the readers take, views
  that share storage, a non-contiguous tensor, nested dicts, a 0-d and an empty tensor; the same values
  as safetensors (contiguous) for comparison; a legacy (non-zip) file; and a pickle that calls a
  function, which a safe reader must refuse.
"""
import argparse, json, os, pickle, zipfile, io, collections, sys, platform

def probe(out):
    info = {"python": sys.version, "platform": platform.platform()}
    import shutil
    info["ffmpeg"] = shutil.which("ffmpeg")
    try:
        import imageio_ffmpeg; info["imageio_ffmpeg"] = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as e: info["imageio_ffmpeg"] = repr(e)
    for name in ["torch", "transformers", "tokenizers", "sentencepiece", "cv2", "skimage", "torchmetrics", "safetensors", "einops", "lpips", "diffusers", "imageio"]:
        try:
            m = __import__(name); info[name] = getattr(m, "__version__", "present")
        except Exception as e: info[name] = "absent: " + type(e).__name__
    json.dump(info, open(os.path.join(out, "probe.json"), "w"), indent=1)
    print(json.dumps(info, indent=1))

TEST_STRINGS = [
    "", "a", "Hello world", "  leading and   inner   spaces ", "A cat walks on the grass, realistic style.",
    "Two anthropomorphic cats in comfy boxing gear fight intensely on a spotlighted stage.",
    "Ünïcödé äccents, naïve café, Straße", "日本語のテキストと中文", "emoji 🎬🐈 and symbols ©®™ ½",
    "numbers 1234567890 3.14159 -42", "tabs\tand\nnewlines\r\nmixed", "ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ",
    "unknownwordxyzzy qwertyuiop", "HTML &amp; entities &lt;b&gt;", "repeated repeated repeated repeated",
    "Привет мир, Ελληνικά, עברית, العربية", "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品",
    "the the the . , ; : ! ? ' \" ( ) [ ] { }",
]

def tokenizer(out, corpus_files):
    import sentencepiece as spm
    d = os.path.join(out, "tokenizer"); os.makedirs(d, exist_ok=True)
    text = []
    for f in corpus_files:
        text += open(f, encoding="utf-8", errors="replace").read().splitlines()
    text += TEST_STRINGS[2:] * 3
    corpus = os.path.join(d, "corpus.txt")
    open(corpus, "w", encoding="utf-8").write("\n".join(t for t in text if t.strip()))
    expected = {"strings": TEST_STRINGS, "models": {}}
    for name, fallback in [("unigram", False), ("unigram-bytefallback", True)]:
        prefix = os.path.join(d, name)
        spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, vocab_size=800, model_type="unigram",
                                       byte_fallback=fallback, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                                       character_coverage=0.9995, num_threads=4, seed_sentencepiece_size=100000,
                                       hard_vocab_limit=False)
        sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
        entry = {"sentencepiece": [sp.encode(s) for s in TEST_STRINGS],
                 "pieces": [sp.encode(s, out_type=str) for s in TEST_STRINGS]}
        expected["models"][name] = entry
        os.remove(prefix + ".vocab")
    os.remove(corpus)
    json.dump(expected, open(os.path.join(d, "expected.json"), "w", encoding="utf-8"), ensure_ascii=False, indent=1)

class Exploit:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))

def pth(out):
    import torch
    from safetensors.torch import save_file
    d = os.path.join(out, "pth"); os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    base = torch.randn(6, 10, generator=g)
    tensors = collections.OrderedDict()
    tensors["f32"] = torch.randn(3, 4, generator=g)
    tensors["bf16"] = torch.randn(5, 7, generator=g).to(torch.bfloat16)
    tensors["f16"] = torch.randn(2, 3, 4, generator=g).to(torch.float16)
    tensors["f64"] = torch.randn(4, generator=g, dtype=torch.float64)
    tensors["i64"] = torch.arange(-5, 7, dtype=torch.int64).reshape(3, 4)
    tensors["i32"] = torch.arange(10, dtype=torch.int32)
    tensors["u8"] = torch.arange(0, 250, 25, dtype=torch.uint8)
    tensors["bool"] = torch.tensor([True, False, True])
    tensors["i8"] = torch.tensor([-128, 0, 127], dtype=torch.int8)
    tensors["i16"] = torch.tensor([-300, 0, 300], dtype=torch.int16)
    tensors["scalar"] = torch.tensor(2.5)
    tensors["empty"] = torch.zeros(0, 4)
    tensors["view_rows"] = base[2:5]            # shares storage, offset 20
    tensors["view_all"] = base                  # same storage
    tensors["transposed"] = base.t()            # non-contiguous strides
    tensors["strided"] = base[:, ::3]           # non-unit stride
    tensors["expanded"] = torch.randn(1, 4, generator=g).expand(3, 4)  # zero stride
    torch.save(tensors, os.path.join(d, "state_dict.pth"))
    nested = {"model": {"encoder.weight": tensors["f32"], "encoder.bias": tensors["i32"]}, "step": 12, "lr": 1e-4,
              "name": "run", "flags": [True, None], "pair": (1, 2.0)}
    torch.save(nested, os.path.join(d, "nested.pth"))
    save_file({k: v.contiguous().clone() for k, v in tensors.items()}, os.path.join(d, "state_dict.safetensors"))
    torch.save({"w": tensors["f32"]}, os.path.join(d, "legacy.pth"), _use_new_zipfile_serialization=False)
    # A torch.save-shaped zip whose pickle calls os.system: a safe reader refuses it before any call.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("exploit/data.pkl", pickle.dumps({"w": Exploit()}, protocol=2))
        z.writestr("exploit/version", "3\n")
    open(os.path.join(d, "exploit.pth"), "wb").write(buf.getvalue())
    json.dump({k: {"dtype": str(v.dtype), "shape": list(v.shape), "stride": list(v.stride()), "offset": v.storage_offset()}
               for k, v in tensors.items()}, open(os.path.join(d, "state_dict.json"), "w"), indent=1)

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--corpus", nargs="+", required=True)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    probe(a.out)
    tokenizer(a.out, a.corpus)
    pth(a.out)
