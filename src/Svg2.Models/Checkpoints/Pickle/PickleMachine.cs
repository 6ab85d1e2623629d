using System.Buffers.Binary;
using System.Text;

namespace Svg2.Models.Checkpoints.Pickle;

/// <summary>
/// Executes a pickle (protocols 2 to 5, and binary protocol 1) without Python: None, booleans, integers,
/// floats, strings and bytes become their .NET values, lists and sets <see cref="List{T}"/>, tuples
/// <c>object?[]</c> and dicts <see cref="OrderedDictionary{TKey, TValue}"/> (keys in insertion order).
/// Every global, call, persistent id and BUILD goes to the <see cref="IPickleHost"/>, which refuses what
/// it does not know, so a hostile pickle can name but never run code.
/// </summary>
/// <remarks>
/// Written by hand because the .NET pickle library (Razorvine.Pickle) turns an unknown global into a
/// dictionary-like placeholder instead of refusing it, keeps its constructors in a process-wide
/// registry, and reports malformed input with its own exception types. Every length and index read
/// from the pickle is checked against the bytes that remain before anything is allocated, so a corrupt
/// pickle ends in a <see cref="CheckpointException"/> naming the byte offset, never in an allocation
/// larger than the pickle or a loop that does not end.
/// </remarks>
internal sealed class PickleMachine
{
    // Pickles that torch.save writes hold a few kilobytes of text per tensor; a dotted name longer than
    // this is corrupt.
    const int MaxGlobalLineBytes = 4096;

    readonly byte[] _pickle;
    readonly IPickleHost _host;
    readonly string _where;
    readonly List<object?> _stack = new();
    readonly Stack<int> _marks = new();
    readonly Dictionary<long, object?> _memo = new();
    int _position;
    int _opcodeAt;

    PickleMachine(byte[] pickle, IPickleHost host, string where) => (_pickle, _host, _where) = (pickle, host, where);

    /// <summary>Runs the pickle to its STOP and returns the value it built.</summary>
    /// <param name="pickle">The pickle's bytes.</param>
    /// <param name="host">The allowlist of globals and the meaning of calls and persistent ids.</param>
    /// <param name="where">The pickle's file (and archive entry), for messages.</param>
    /// <exception cref="CheckpointException">The pickle is malformed, truncated or uses what the host refuses.</exception>
    public static object? Run(byte[] pickle, IPickleHost host, string where) => new PickleMachine(pickle, host, where).Run();

    object? Run()
    {
        while (_position < _pickle.Length)
        {
            _opcodeAt = _position;
            var opcode = (PickleOpcode)_pickle[_position++];
            if (opcode == PickleOpcode.Stop)
            {
                if (_marks.Count > 0) throw Invalid("STOP with an unclosed MARK");
                if (_stack.Count != 1) throw Invalid($"STOP with {_stack.Count} values on the stack instead of one");
                return _stack[0];
            }
            Execute(opcode);
        }
        throw new CheckpointException($"{_where}: the pickle ends at byte {_pickle.Length} without a STOP (truncated?).");
    }

    void Execute(PickleOpcode opcode)
    {
        switch (opcode)
        {
            case PickleOpcode.Proto:
                int protocol = ReadByte();
                if (protocol > 5) throw Invalid($"pickle protocol {protocol} is newer than 5");
                break;
            case PickleOpcode.Frame: ReadInt64(); break;
            case PickleOpcode.Mark: _marks.Push(_stack.Count); break;
            case PickleOpcode.Pop:
                // POP with an open MARK and nothing above it drops the MARK, as Python does.
                if (_marks.Count > 0 && _marks.Peek() == _stack.Count) _marks.Pop();
                else Pop();
                break;
            case PickleOpcode.PopMark: PopMark(); break;
            case PickleOpcode.Dup: Push(Peek()); break;

            case PickleOpcode.None: Push(null); break;
            case PickleOpcode.NewTrue: Push(true); break;
            case PickleOpcode.NewFalse: Push(false); break;
            case PickleOpcode.BinInt: Push((long)ReadInt32()); break;
            case PickleOpcode.BinInt1: Push((long)ReadByte()); break;
            case PickleOpcode.BinInt2: Push((long)ReadUInt16()); break;
            case PickleOpcode.Long1: Push(ReadLong(ReadByte())); break;
            case PickleOpcode.Long4: Push(ReadLong(ReadLength(ReadInt32()))); break;
            case PickleOpcode.BinFloat: Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break;

            case PickleOpcode.ShortBinUnicode: Push(ReadUtf8(ReadByte())); break;
            case PickleOpcode.BinUnicode: Push(ReadUtf8(ReadLength(ReadUInt32()))); break;
            case PickleOpcode.BinUnicode8: Push(ReadUtf8(ReadLength(ReadInt64()))); break;
            // Python 2 byte strings; Python 3 reads them as text (ASCII by default, Latin-1 here to never fail).
            case PickleOpcode.ShortBinString: Push(Encoding.Latin1.GetString(Take(ReadByte()))); break;
            case PickleOpcode.BinString: Push(Encoding.Latin1.GetString(Take(ReadLength(ReadInt32())))); break;
            case PickleOpcode.ShortBinBytes: Push(Take(ReadByte()).ToArray()); break;
            case PickleOpcode.BinBytes: Push(Take(ReadLength(ReadUInt32())).ToArray()); break;
            case PickleOpcode.BinBytes8:
            case PickleOpcode.ByteArray8: Push(Take(ReadLength(ReadInt64())).ToArray()); break;

            case PickleOpcode.EmptyTuple: Push(Array.Empty<object?>()); break;
            case PickleOpcode.Tuple: Push(PopMark().ToArray()); break;
            case PickleOpcode.Tuple1: Push(PopMany(1)); break;
            case PickleOpcode.Tuple2: Push(PopMany(2)); break;
            case PickleOpcode.Tuple3: Push(PopMany(3)); break;
            case PickleOpcode.EmptyList:
            case PickleOpcode.EmptySet: Push(new List<object?>()); break;
            case PickleOpcode.List:
            case PickleOpcode.FrozenSet: Push(PopMark()); break;
            case PickleOpcode.Append: { var item = Pop(); ListOnTop().Add(item); break; }
            case PickleOpcode.Appends:
            case PickleOpcode.AddItems: { var items = PopMark(); ListOnTop().AddRange(items); break; }
            case PickleOpcode.EmptyDict: Push(new OrderedDictionary<object, object?>()); break;
            case PickleOpcode.Dict: { var dict = new OrderedDictionary<object, object?>(); SetItems(dict, PopMark()); Push(dict); break; }
            case PickleOpcode.SetItem: { var value = Pop(); var key = Pop(); SetItems(DictOnTop(), [key, value]); break; }
            case PickleOpcode.SetItems: { var pairs = PopMark(); SetItems(DictOnTop(), pairs); break; }

            case PickleOpcode.BinPut: _memo[ReadByte()] = Peek(); break;
            case PickleOpcode.LongBinPut: _memo[ReadUInt32()] = Peek(); break;
            case PickleOpcode.Memoize: _memo[_memo.Count] = Peek(); break;
            case PickleOpcode.BinGet: Push(Recall(ReadByte())); break;
            case PickleOpcode.LongBinGet: Push(Recall(ReadUInt32())); break;

            case PickleOpcode.Global:
            {
                string module = ReadLine(), name = ReadLine();
                Push(_host.ResolveGlobal(module, name));
                break;
            }
            case PickleOpcode.StackGlobal:
            {
                var name = Pop();
                var module = Pop();
                if (module is not string moduleText || name is not string nameText) throw Invalid("STACK_GLOBAL needs two strings");
                Push(_host.ResolveGlobal(moduleText, nameText));
                break;
            }
            case PickleOpcode.Reduce:
            case PickleOpcode.NewObj:
            {
                var arguments = Pop() as object?[] ?? throw Invalid($"{opcode} needs a tuple of arguments");
                var callable = Pop();
                Push(_host.Call(callable, arguments));
                break;
            }
            case PickleOpcode.NewObjEx:
            {
                var keywords = Pop();
                var arguments = Pop() as object?[] ?? throw Invalid("NEWOBJ_EX needs a tuple of arguments");
                if (keywords is not OrderedDictionary<object, object?> { Count: 0 }) throw Invalid("NEWOBJ_EX with keyword arguments is not supported");
                var callable = Pop();
                Push(_host.Call(callable, arguments));
                break;
            }
            case PickleOpcode.Build:
            {
                var state = Pop();
                _host.Build(Peek(), state);
                break;
            }
            case PickleOpcode.BinPersId: Push(_host.PersistentLoad(Pop())); break;

            default:
                throw Invalid($"opcode 0x{(byte)opcode:x2} ('{(char)opcode}') is not supported (text protocol 0, out-of-band buffers, or not a pickle)");
        }
    }

    CheckpointException Invalid(string problem) =>
        new($"{_where}: invalid pickle at byte {_opcodeAt}: {problem}.");

    void Push(object? value) => _stack.Add(value);

    object? Peek()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _marks.Peek() == _stack.Count)) throw Invalid("the stack is empty");
        return _stack[^1];
    }

    object? Pop()
    {
        var value = Peek();
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    object?[] PopMany(int count)
    {
        int floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count - floor < count) throw Invalid($"needs {count} values on the stack");
        var values = _stack.GetRange(_stack.Count - count, count).ToArray();
        _stack.RemoveRange(_stack.Count - count, count);
        return values;
    }

    List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Invalid("no MARK to pop to");
        int height = _marks.Pop();
        var values = _stack.GetRange(height, _stack.Count - height);
        _stack.RemoveRange(height, _stack.Count - height);
        return values;
    }

    List<object?> ListOnTop() => Peek() as List<object?> ?? throw Invalid("APPEND or ADDITEMS on something that is not a list or set");

    OrderedDictionary<object, object?> DictOnTop() =>
        Peek() as OrderedDictionary<object, object?> ?? throw Invalid("SETITEM on something that is not a dict");

    void SetItems(OrderedDictionary<object, object?> dict, List<object?> pairs)
    {
        if (pairs.Count % 2 != 0) throw Invalid("a dict needs key and value pairs");
        for (int i = 0; i < pairs.Count; i += 2)
        {
            var key = pairs[i] switch
            {
                null => throw Invalid("a dict key is None"),
                List<object?> or OrderedDictionary<object, object?> => throw Invalid("a dict key is a list or dict"),
                var k => k,
            };
            dict[key] = pairs[i + 1];
        }
    }

    object? Recall(long index) =>
        _memo.TryGetValue(index, out var value) ? value : throw Invalid($"memo entry {index} was never stored");

    ReadOnlySpan<byte> Take(long count)
    {
        if (count < 0 || count > _pickle.Length - _position)
            throw new CheckpointException($"{_where}: the pickle's opcode at byte {_opcodeAt} needs {count} bytes but only {_pickle.Length - _position} remain (truncated?).");
        var span = _pickle.AsSpan(_position, (int)count);
        _position += (int)count;
        return span;
    }

    int ReadByte() => Take(1)[0];
    int ReadUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
    int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
    long ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    long ReadLength(long length) =>
        length >= 0 && length <= _pickle.Length - _position ? length
            : throw new CheckpointException($"{_where}: the pickle's opcode at byte {_opcodeAt} claims {length} bytes but only {_pickle.Length - _position} remain (truncated?).");

    string ReadUtf8(long length)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Take(length));
        }
        catch (DecoderFallbackException)
        {
            throw Invalid("a string is not valid UTF-8");
        }
    }

    // Python's LONG1 and LONG4: little-endian two's complement. Tensor sizes, strides and offsets fit 64 bits.
    long ReadLong(long byteCount)
    {
        var bytes = Take(byteCount);
        if (bytes.Length > 8) throw Invalid($"an integer of {bytes.Length} bytes does not fit 64 bits");
        if (bytes.Length == 0) return 0;
        long value = (sbyte)bytes[^1];
        for (int i = bytes.Length - 2; i >= 0; i--) value = (value << 8) | bytes[i];
        return value;
    }

    string ReadLine()
    {
        int end = Array.IndexOf(_pickle, (byte)'\n', _position, Math.Min(MaxGlobalLineBytes, _pickle.Length - _position));
        if (end < 0) throw Invalid("GLOBAL without a newline-terminated name");
        var line = Encoding.UTF8.GetString(_pickle, _position, end - _position);
        _position = end + 1;
        return line;
    }
}
