using System.Buffers.Binary;
using System.Text;

namespace Svg2.Cuda.Runtime;

/// <summary>
/// The SASS instruction count of each kernel in a cubin, from the sizes of its per-kernel code sections
/// (<c>.text.&lt;kernel&gt;</c>). Written by hand: general ELF readers refuse a cubin, whose header carries a
/// CUDA-specific version, and only the section table is needed.
/// </summary>
internal static class CubinSections
{
    const int HeaderBytes = 0x40;
    const int SectionTableOffsetField = 0x28;   // e_shoff
    const int SectionEntryBytesField = 0x3A;    // e_shentsize
    const int SectionCountField = 0x3C;         // e_shnum
    const int SectionNamesIndexField = 0x3E;    // e_shstrndx
    const int SectionNameField = 0x00;          // sh_name
    const int SectionOffsetField = 0x18;        // sh_offset
    const int SectionSizeField = 0x20;          // sh_size
    const int SectionEntryMinimumBytes = 0x28;
    const int Elf64Class = 2, LittleEndianData = 1;
    const string CodeSectionPrefix = ".text.";

    /// <summary>Bytes of one SASS instruction on every architecture the kernels target (Volta on).</summary>
    public const int InstructionBytes = 16;

    /// <summary>Kernel name to instruction count; an <see cref="InvalidDataException"/> where the image is no 64-bit little-endian ELF or is cut short.</summary>
    public static IReadOnlyDictionary<string, int> InstructionCounts(ReadOnlySpan<byte> image)
    {
        if (image.Length < HeaderBytes || !image[..4].SequenceEqual("\u007fELF"u8) || image[4] != Elf64Class || image[5] != LittleEndianData)
            throw new InvalidDataException("The cubin is not a 64-bit little-endian ELF image.");
        long table = BinaryPrimitives.ReadInt64LittleEndian(image[SectionTableOffsetField..]);
        int entryBytes = BinaryPrimitives.ReadUInt16LittleEndian(image[SectionEntryBytesField..]);
        int count = BinaryPrimitives.ReadUInt16LittleEndian(image[SectionCountField..]);
        int namesIndex = BinaryPrimitives.ReadUInt16LittleEndian(image[SectionNamesIndexField..]);
        if (entryBytes < SectionEntryMinimumBytes || table < 0 || table + (long)count * entryBytes > image.Length || namesIndex >= count)
            throw new InvalidDataException($"The cubin's section table ({count} entries of {entryBytes} bytes at {table}) lies outside its {image.Length} bytes.");

        ReadOnlySpan<byte> Entry(ReadOnlySpan<byte> all, int index) => all.Slice((int)(table + (long)index * entryBytes), entryBytes);
        var namesEntry = Entry(image, namesIndex);
        var names = Slice(image, BinaryPrimitives.ReadInt64LittleEndian(namesEntry[SectionOffsetField..]), BinaryPrimitives.ReadInt64LittleEndian(namesEntry[SectionSizeField..]));
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            var entry = Entry(image, i);
            int nameStart = (int)BinaryPrimitives.ReadUInt32LittleEndian(entry[SectionNameField..]);
            if (nameStart >= names.Length) throw new InvalidDataException($"Section {i}'s name lies outside the cubin's name table.");
            var rest = names[nameStart..];
            int end = rest.IndexOf((byte)0);
            var name = Encoding.ASCII.GetString(end < 0 ? rest : rest[..end]);
            if (name.StartsWith(CodeSectionPrefix, StringComparison.Ordinal))
                counts[name[CodeSectionPrefix.Length..]] = (int)(BinaryPrimitives.ReadInt64LittleEndian(entry[SectionSizeField..]) / InstructionBytes);
        }
        return counts;
    }

    static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> image, long offset, long size)
    {
        if (offset < 0 || size < 0 || offset + size > image.Length)
            throw new InvalidDataException($"A cubin section ({size} bytes at {offset}) lies outside its {image.Length} bytes.");
        return image.Slice((int)offset, (int)size);
    }
}
