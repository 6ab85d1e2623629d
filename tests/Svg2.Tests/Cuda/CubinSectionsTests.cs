using System.Buffers.Binary;
using System.Text;
using Svg2.Cuda.Runtime;
using Xunit;

namespace Svg2.Tests.Cuda;

public class CubinSectionsTests
{
    const int HeaderBytes = 0x40, EntryBytes = 0x40;

    // A minimal ELF64 little-endian image: a null section, a name table and the given sections, the table at the end.
    static byte[] Image(params (string Name, int Size)[] sections)
    {
        var names = new List<byte> { 0 };
        var nameOffsets = new List<int>();
        foreach (var name in new[] { ".shstrtab" }.Concat(sections.Select(s => s.Name)))
        {
            nameOffsets.Add(names.Count);
            names.AddRange(Encoding.ASCII.GetBytes(name));
            names.Add(0);
        }
        int namesOffset = HeaderBytes, tableOffset = namesOffset + names.Count, count = sections.Length + 2;
        var image = new byte[tableOffset + count * EntryBytes];
        "\u007fELF"u8.CopyTo(image);
        image[4] = 2;
        image[5] = 1;
        BinaryPrimitives.WriteInt64LittleEndian(image.AsSpan(0x28), tableOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x3A), EntryBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x3C), (ushort)count);
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x3E), 1);
        names.ToArray().CopyTo(image, namesOffset);
        void Entry(int index, int name, long offset, long size)
        {
            var entry = image.AsSpan(tableOffset + index * EntryBytes);
            BinaryPrimitives.WriteUInt32LittleEndian(entry, (uint)name);
            BinaryPrimitives.WriteInt64LittleEndian(entry[0x18..], offset);
            BinaryPrimitives.WriteInt64LittleEndian(entry[0x20..], size);
        }
        Entry(1, nameOffsets[0], namesOffset, names.Count);
        for (int i = 0; i < sections.Length; i++) Entry(i + 2, nameOffsets[i + 1], 0, sections[i].Size);
        return image;
    }

    [Fact]
    public void CountsEachKernelsInstructionsFromItsCodeSection()
    {
        var counts = CubinSections.InstructionCounts(Image((".text.svg2_a", 48 * 16), (".nv.info.svg2_a", 64), (".text.svg2_b", 7 * 16)));
        Assert.Equal(2, counts.Count);
        Assert.Equal(48, counts["svg2_a"]);
        Assert.Equal(7, counts["svg2_b"]);
    }

    [Fact]
    public void RefusesAnImageThatIsNoElf()
    {
        var error = Assert.Throws<InvalidDataException>(() => CubinSections.InstructionCounts(new byte[100]));
        Assert.Contains("ELF", error.Message);
    }

    [Fact]
    public void RefusesASectionTablePastTheEnd()
    {
        var image = Image((".text.svg2_a", 16));
        var cut = image.AsSpan(0, image.Length - 8).ToArray();
        var error = Assert.Throws<InvalidDataException>(() => CubinSections.InstructionCounts(cut));
        Assert.Contains("section table", error.Message);
    }
}
