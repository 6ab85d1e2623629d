using System.Buffers;
using System.Text;

namespace Svg2.IO;

/// <summary>Checks on the raw bytes of a safetensors header before it is parsed as JSON.</summary>
internal static class SafeTensorsHeaderText
{
    /// <summary>The offset of the first byte that is not part of well-formed UTF-8, or -1 when all are.</summary>
    public static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes)) return -1;
        int offset = 0;
        while (offset < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[offset..], out _, out int consumed) != OperationStatus.Done) return offset;
            offset += consumed;
        }
        return -1;
    }
}
