using Svg2.Models.Checkpoints.Pickle;
using static TorchSharp.torch;

namespace Svg2.Models.Checkpoints.Pth;

/// <summary>
/// The globals that torch.save (PyTorch 1.6 and later) writes for state dicts, and nothing else:
/// collections.OrderedDict, torch._utils._rebuild_tensor_v2, _rebuild_parameter,
/// _rebuild_parameter_with_state and the typed storage classes (torch.FloatStorage, ...). Tensors become
/// <see cref="PthTensor"/> descriptions; no data is read. Any other global is refused by name.
/// </summary>
internal sealed class TorchPickleHost : IPickleHost
{
    // PyTorch's own bound on tensor dimensions.
    const int MaxDimensions = 64;

    static readonly PickleGlobal OrderedDict = new("collections", "OrderedDict");
    static readonly PickleGlobal RebuildTensor = new("torch._utils", "_rebuild_tensor_v2");
    static readonly PickleGlobal RebuildParameter = new("torch._utils", "_rebuild_parameter");
    static readonly PickleGlobal RebuildParameterWithState = new("torch._utils", "_rebuild_parameter_with_state");

    static readonly Dictionary<string, (ScalarType Type, int Size)> StorageTypes = new()
    {
        ["DoubleStorage"] = (ScalarType.Float64, 8),
        ["FloatStorage"] = (ScalarType.Float32, 4),
        ["HalfStorage"] = (ScalarType.Float16, 2),
        ["BFloat16Storage"] = (ScalarType.BFloat16, 2),
        ["LongStorage"] = (ScalarType.Int64, 8),
        ["IntStorage"] = (ScalarType.Int32, 4),
        ["ShortStorage"] = (ScalarType.Int16, 2),
        ["CharStorage"] = (ScalarType.Int8, 1),
        ["ByteStorage"] = (ScalarType.Byte, 1),
        ["BoolStorage"] = (ScalarType.Bool, 1),
    };

    readonly string _where;
    readonly Dictionary<string, PthStorage> _storages = new();

    /// <summary>Creates the host; <paramref name="where"/> names the file in messages.</summary>
    public TorchPickleHost(string where) => _where = where;

    /// <summary>Every storage the pickle referred to, by key.</summary>
    public IReadOnlyDictionary<string, PthStorage> Storages => _storages;

    /// <inheritdoc/>
    public object ResolveGlobal(string module, string name)
    {
        var global = new PickleGlobal(module, name);
        if (global == OrderedDict || global == RebuildTensor || global == RebuildParameter || global == RebuildParameterWithState
            || (module == "torch" && StorageTypes.ContainsKey(name)))
            return global;
        throw new CheckpointException($"{_where}: the pickle refers to the global '{global}', which a weights file does not need; "
            + "it was refused and nothing was run (only tensors, storages and OrderedDict are allowed).");
    }

    /// <inheritdoc/>
    public object? Call(object? callable, object?[] arguments)
    {
        var function = callable as PickleGlobal;
        if (function == OrderedDict) return NewOrderedDict(arguments);
        if (function == RebuildTensor) return Tensor(arguments);
        if (function == RebuildParameter || function == RebuildParameterWithState)
        {
            if (arguments.Length < 1 || arguments[0] is not PthTensor data)
                throw Invalid($"{callable} expects a tensor as its first argument");
            return data;
        }
        throw Invalid($"the pickle calls {Describe(callable)}, which is not a function");
    }

    /// <inheritdoc/>
    public object? PersistentLoad(object? id)
    {
        // torch.save's persistent id: ('storage', storage type, key, location, element count).
        if (id is not object?[] { Length: 5 } fields || fields[0] is not "storage")
            throw Invalid("a persistent id is not a ('storage', type, key, location, size) tuple");
        if (fields[1] is not PickleGlobal { Module: "torch" } storageType || !StorageTypes.TryGetValue(storageType.Name, out var type))
            throw Invalid($"a persistent id names {Describe(fields[1])} instead of a storage type");
        if (fields[2] is not string key || key.Length == 0)
            throw Invalid("a persistent id has no storage key");
        if (fields[4] is not long count || count < 0)
            throw Invalid($"storage '{key}' has an invalid element count");
        var storage = new PthStorage(key, type.Type, type.Size, count);
        if (_storages.TryGetValue(key, out var known))
        {
            if (known != storage) throw Invalid($"storage '{key}' is described twice, as {known.Type} x {known.ElementCount} and as {type.Type} x {count}");
            return known;
        }
        if (count > long.MaxValue / type.Size) throw Invalid($"storage '{key}' claims {count} elements");
        _storages[key] = storage;
        return storage;
    }

    /// <inheritdoc/>
    public void Build(object? target, object? state)
    {
        // An nn.Module state dict carries its version table (_metadata) as OrderedDict attributes; no tensor is in it.
        if (target is OrderedDictionary<object, object?>) return;
        throw Invalid($"BUILD on {Describe(target)} is not supported");
    }

    object NewOrderedDict(object?[] arguments)
    {
        var dict = new OrderedDictionary<object, object?>();
        if (arguments.Length == 0) return dict;
        if (arguments.Length != 1 || arguments[0] is not List<object?> pairs)
            throw Invalid("OrderedDict expects no argument or a list of pairs");
        foreach (var pair in pairs)
        {
            if (pair is not object?[] { Length: 2 } keyValue || keyValue[0] is null)
                throw Invalid("OrderedDict expects (key, value) pairs");
            dict[keyValue[0]!] = keyValue[1];
        }
        return dict;
    }

    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).
    PthTensor Tensor(object?[] arguments)
    {
        if (arguments.Length is not (6 or 7)) throw Invalid($"_rebuild_tensor_v2 expects 6 or 7 arguments, got {arguments.Length}");
        if (arguments[0] is not PthStorage storage) throw Invalid("_rebuild_tensor_v2 expects a storage first");
        if (arguments[1] is not long offset || offset < 0) throw Invalid($"tensor of storage '{storage.Key}' has an invalid storage offset");
        var shape = Sizes(arguments[2], "size", storage);
        var stride = Sizes(arguments[3], "stride", storage);
        if (shape.Length != stride.Length)
            throw Invalid($"tensor of storage '{storage.Key}' has {shape.Length} sizes but {stride.Length} strides");
        var tensor = new PthTensor(storage, offset, shape, stride);
        long end;
        try
        {
            _ = tensor.ElementCount;
            end = checked(offset + tensor.Span);
        }
        catch (OverflowException)
        {
            throw Invalid($"tensor of storage '{storage.Key}' with size [{string.Join(", ", shape)}] and stride [{string.Join(", ", stride)}] overflows 64-bit indexing");
        }
        if (end > storage.ElementCount)
            throw Invalid($"a view of storage '{storage.Key}' (offset {offset}, size [{string.Join(", ", shape)}], stride [{string.Join(", ", stride)}]) "
                + $"reaches element {end} but the storage holds {storage.ElementCount}");
        return tensor;
    }

    long[] Sizes(object? value, string what, PthStorage storage)
    {
        if (value is not object?[] items || items.Length > MaxDimensions)
            throw Invalid($"tensor of storage '{storage.Key}' has no {what} tuple of at most {MaxDimensions} entries");
        var sizes = new long[items.Length];
        for (int i = 0; i < items.Length; i++)
            sizes[i] = items[i] is long size && size >= 0 ? size
                : throw Invalid($"tensor of storage '{storage.Key}' has {what} entry {i} that is not a non-negative integer");
        return sizes;
    }

    static string Describe(object? value) => value switch
    {
        null => "None",
        PickleGlobal global => $"'{global}'",
        _ => $"a {value.GetType().Name}",
    };

    CheckpointException Invalid(string problem) => new($"{_where}: {problem}.");
}
