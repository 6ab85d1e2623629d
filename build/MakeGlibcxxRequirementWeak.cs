using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Marks the GLIBCXX_3.4.32 version requirement of every libLibTorchSharp.so under a folder as weak,
/// when the host's libstdc++ does not provide that version (or, with <see cref="Always"/>, on any host:
/// for outputs that travel to other hosts, such as the tool package). See LibTorchSharpCompat.targets.
/// </summary>
public class MakeGlibcxxRequirementWeak : Task
{
    const string MissingVersion = "GLIBCXX_3.4.32";
    const ushort VersionFlagWeak = 0x2;
    const uint SectionTypeVersionNeed = 0x6ffffffe;

    static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
    };

    [Required] public string Directory { get; set; } = "";

    /// <summary>Patch even when this host's libstdc++ provides the version (harmless where it does).</summary>
    public bool Always { get; set; }

    public override bool Execute()
    {
        if (!System.IO.Directory.Exists(Directory)) return true;
        if (!Always && HostProvidesVersion()) return true;
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "libLibTorchSharp.so", SearchOption.AllDirectories))
        {
            if (Patch(path))
                Log.LogMessage(MessageImportance.High, Always
                    ? $"made the {MissingVersion} requirement weak in {path}"
                    : $"libstdc++ lacks {MissingVersion}: made that requirement weak in {path}");
        }
        return !Log.HasLoggedErrors;
    }

    static bool HostProvidesVersion()
    {
        foreach (var candidate in LibStdCxxCandidates)
        {
            if (!File.Exists(candidate)) continue;
            var text = Encoding.ASCII.GetString(File.ReadAllBytes(candidate));
            return text.Contains(MissingVersion + "\0");
        }
        return false;
    }

    bool Patch(string path)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[4] != 2 || elf[5] != 1)
        {
            Log.LogWarning($"{path} is not a little-endian 64-bit ELF file; left unchanged");
            return false;
        }
        ulong sectionTableOffset = BitConverter.ToUInt64(elf, 0x28);
        int sectionEntrySize = BitConverter.ToUInt16(elf, 0x3A);
        int sectionCount = BitConverter.ToUInt16(elf, 0x3C);
        bool changed = false;
        for (int s = 0; s < sectionCount; s++)
        {
            int header = checked((int)sectionTableOffset + s * sectionEntrySize);
            if (BitConverter.ToUInt32(elf, header + 4) != SectionTypeVersionNeed) continue;
            int offset = checked((int)BitConverter.ToUInt64(elf, header + 0x18));
            int linkedStrings = (int)BitConverter.ToUInt32(elf, header + 0x28);
            int stringsHeader = checked((int)sectionTableOffset + linkedStrings * sectionEntrySize);
            int strings = checked((int)BitConverter.ToUInt64(elf, stringsHeader + 0x18));
            while (true)
            {
                int auxCount = BitConverter.ToUInt16(elf, offset + 2);
                int aux = offset + (int)BitConverter.ToUInt32(elf, offset + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    string name = ReadString(elf, strings + (int)BitConverter.ToUInt32(elf, aux + 8));
                    ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                    if (name == MissingVersion && (flags & VersionFlagWeak) == 0)
                    {
                        BitConverter.GetBytes((ushort)(flags | VersionFlagWeak)).CopyTo(elf, aux + 4);
                        changed = true;
                    }
                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }
                uint next = BitConverter.ToUInt32(elf, offset + 12);
                if (next == 0) break;
                offset += (int)next;
            }
        }
        if (changed) File.WriteAllBytes(path, elf);
        return changed;
    }

    static string ReadString(byte[] bytes, int start)
    {
        int end = Array.IndexOf(bytes, (byte)0, start);
        return Encoding.ASCII.GetString(bytes, start, end - start);
    }
}
