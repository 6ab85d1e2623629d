"""Writes small torch.save-shaped files without PyTorch, for the .pth reader's tests.

    python3 tools/reference/make_synthetic_pth.py --out tests/data/pth

A stand-in `torch` package (only the class and function names that torch.save pickles) makes Python's
own pickle module emit the opcodes, globals and persistent ids that torch.save writes, inside a zip laid
out as torch.save lays it out (NAME/data.pkl, NAME/data/KEY, NAME/version, NAME/byteorder). The files
complement the ones tools/reference/make_fixtures.py writes with real PyTorch: both protocols 2 and 4,
views of every kind, a parameter, a state dict's _metadata, 64-bit integers and hostile pickles.

- synthetic.pth: a state dict (protocol 2) of every storage type, views and a parameter.
- synthetic_nested.pth: the same tensors under "model" (protocol 4) beside non-tensor values.
- synthetic.safetensors: the same tensors, contiguous, for comparison.
- hostile_system.pth (os.system via GLOBAL), hostile_eval.pth (builtins.eval via STACK_GLOBAL),
  hostile_getcwd.pth (a call without arguments), hostile_storage.pth (a call hidden in a storage's
  persistent id): a safe reader refuses each before any call.
"""
import argparse, collections, io, itertools, json, os, pickle, struct, sys, tempfile, zipfile

STAND_IN = {
    "__init__.py": "".join(f"class {name}Storage: pass\n" for name in
                           ["Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool"]),
    "_utils.py": "def _rebuild_tensor_v2(*args): pass\ndef _rebuild_parameter(*args): pass\n",
}

# storage class, struct format, safetensors dtype
TYPES = {
    "f32": ("FloatStorage", "f", "F32"), "f64": ("DoubleStorage", "d", "F64"), "f16": ("HalfStorage", "e", "F16"),
    "bf16": ("BFloat16Storage", "H", "BF16"), "i64": ("LongStorage", "q", "I64"), "i32": ("IntStorage", "i", "I32"),
    "i16": ("ShortStorage", "h", "I16"), "i8": ("CharStorage", "b", "I8"), "u8": ("ByteStorage", "B", "U8"),
    "bool": ("BoolStorage", "?", "BOOL"),
}


def load_stand_in():
    folder = tempfile.mkdtemp()
    os.makedirs(os.path.join(folder, "torch"))
    for name, text in STAND_IN.items():
        open(os.path.join(folder, "torch", name), "w").write(text)
    sys.path.insert(0, folder)
    import torch, torch._utils
    return torch


class Storage:
    def __init__(self, torch, kind, key, values):
        self.kind, self.key, self.values = kind, key, list(values)
        self.cls = getattr(torch, TYPES[kind][0])

    def bytes(self):
        return struct.pack("<%d%s" % (len(self.values), TYPES[self.kind][1]), *self.values)


class Tensor:
    rebuild = None

    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset, self.shape, self.stride = storage, offset, tuple(shape), tuple(stride)

    def __reduce_ex__(self, protocol):
        return (Tensor.rebuild, (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()))

    def contiguous_values(self):
        return [self.storage.values[self.offset + sum(i * s for i, s in zip(index, self.stride))]
                for index in itertools.product(*[range(n) for n in self.shape])]


class Parameter:
    rebuild = None

    def __init__(self, tensor):
        self.tensor = tensor

    def __reduce_ex__(self, protocol):
        return (Parameter.rebuild, (self.tensor, True, collections.OrderedDict()))


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, "cpu", len(obj.values))
        return None


def bf16(x):
    return struct.unpack("<I", struct.pack("<f", x))[0] >> 16


def save(path, obj, storages, protocol, archive):
    buffer = io.BytesIO()
    TorchPickler(buffer, protocol=protocol).dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", buffer.getvalue())
        z.writestr(f"{archive}/byteorder", "little")
        for storage in storages:
            z.writestr(f"{archive}/data/{storage.key}", storage.bytes())
        z.writestr(f"{archive}/version", "3\n")


def save_safetensors(path, tensors):
    header, data = {}, b""
    for name, tensor in tensors.items():
        kind = tensor.storage.kind
        raw = struct.pack("<%d%s" % (len(tensor.contiguous_values()), TYPES[kind][1]), *tensor.contiguous_values())
        header[name] = {"dtype": TYPES[kind][2], "shape": list(tensor.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data)


def hostile(path, payload, protocol, archive="archive"):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{archive}/data.pkl", pickle.dumps({"w": payload}, protocol=protocol))
        z.writestr(f"{archive}/version", "3\n")


class CallsSystem:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


class CallsEval:
    def __reduce__(self):
        return (eval, ("print('this must never run')",))


class CallsGetcwd:
    def __reduce__(self):
        return (os.getcwd, ())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    torch = load_stand_in()
    Tensor.rebuild, Parameter.rebuild = torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter

    base = Storage(torch, "f32", "0", [((i * 37) % 23) * 0.25 - 3 for i in range(60)])
    storages = [base,
                Storage(torch, "bf16", "1", [bf16(v) for v in [1.5, -2.25, 3.0, 0.0, 1e-3, -7.5]]),
                Storage(torch, "f16", "2", [0.5, -1.0, 2.0, 65504.0, -6.1e-5, 0.0]),
                Storage(torch, "f64", "3", [1e300, -2.5, 3.141592653589793]),
                Storage(torch, "i64", "4", [-3, 0, 7, 2 ** 40, -2 ** 40, 2 ** 62]),
                Storage(torch, "i32", "5", [-(2 ** 31), 0, 2 ** 31 - 1, 12]),
                Storage(torch, "i16", "6", [-300, 0, 300]),
                Storage(torch, "i8", "7", [-128, 0, 127]),
                Storage(torch, "u8", "8", [0, 25, 250]),
                Storage(torch, "bool", "9", [True, False, True]),
                Storage(torch, "f32", "10", [2.5])]
    s = {st.key: st for st in storages}
    tensors = collections.OrderedDict()
    tensors["full"] = Tensor(base, 0, [6, 10], [10, 1])
    tensors["rows"] = Tensor(base, 20, [3, 10], [10, 1])
    tensors["transposed"] = Tensor(base, 0, [10, 6], [1, 10])
    tensors["strided"] = Tensor(base, 1, [5, 4], [10, 3])
    tensors["expanded"] = Tensor(base, 5, [3, 4], [0, 1])
    tensors["column"] = Tensor(base, 7, [6, 1], [10, 1])
    tensors["bf16"] = Tensor(s["1"], 0, [2, 3], [3, 1])
    tensors["f16"] = Tensor(s["2"], 0, [2, 3], [1, 2])
    tensors["f64"] = Tensor(s["3"], 0, [3], [1])
    tensors["i64"] = Tensor(s["4"], 1, [5], [1])
    tensors["i32"] = Tensor(s["5"], 0, [2, 2], [2, 1])
    tensors["i16"] = Tensor(s["6"], 0, [3], [1])
    tensors["i8"] = Tensor(s["7"], 0, [3], [1])
    tensors["u8"] = Tensor(s["8"], 0, [3], [1])
    tensors["bool"] = Tensor(s["9"], 0, [3], [1])
    tensors["scalar"] = Tensor(s["10"], 0, [], [])
    tensors["empty"] = Tensor(base, 0, [0, 4], [4, 1])
    state = collections.OrderedDict(tensors)
    state["parameter"] = Parameter(Tensor(base, 30, [2, 5], [5, 1]))
    # A module's state dict carries its version table as an attribute, which pickle writes with BUILD.
    state._metadata = collections.OrderedDict({"": {"version": 1}})
    save(os.path.join(out, "synthetic.pth"), state, storages, protocol=2, archive="synthetic")

    nested = {"model": state, "step": 2 ** 40, "lr": 1e-4, "name": "run", "flags": [True, None], "pair": (1, 2.0),
              "by_index": {3: tensors["i8"]}, "blob": b"\x00\x01"}
    save(os.path.join(out, "synthetic_nested.pth"), nested, storages, protocol=4, archive="archive")

    expected = collections.OrderedDict(tensors)
    expected["parameter"] = Tensor(base, 30, [2, 5], [5, 1])
    save_safetensors(os.path.join(out, "synthetic.safetensors"), expected)

    hostile(os.path.join(out, "hostile_system.pth"), CallsSystem(), 2)
    hostile(os.path.join(out, "hostile_eval.pth"), CallsEval(), 4)
    hostile(os.path.join(out, "hostile_getcwd.pth"), CallsGetcwd(), 2)

    class HiddenInStorage(TorchPickler):
        def persistent_id(self, obj):
            return ("storage", os.system, "0", "cpu", 1) if isinstance(obj, Storage) else None
    buffer = io.BytesIO()
    HiddenInStorage(buffer, protocol=2).dump({"w": Tensor(base, 0, [1], [1])})
    with zipfile.ZipFile(os.path.join(out, "hostile_storage.pth"), "w") as z:
        z.writestr("archive/data.pkl", buffer.getvalue())
        z.writestr("archive/data/0", base.bytes())


if __name__ == "__main__":
    main()
