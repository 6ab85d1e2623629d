namespace Svg2.Models.Video;

/// <summary>
/// Writes an output file or folder through a temporary sibling that is moved into place only when complete, so
/// that a failure (a crashed encoder, a full disk, a bad frame) leaves neither a partial output nor the temporary.
/// </summary>
public static class AtomicOutput
{
    /// <summary>
    /// Calls <paramref name="write"/> with a temporary path in the folder of <paramref name="path"/> (with the same
    /// extension, which ffmpeg reads the container from), then moves it onto <paramref name="path"/>.
    /// </summary>
    /// <exception cref="VideoIOException">The folder does not exist, or writing or moving failed; the message names <paramref name="path"/>.</exception>
    public static void WriteFile(string path, Action<string> write)
    {
        var (full, parent) = Locate(path);
        if (Directory.Exists(full)) throw new VideoIOException($"Cannot write {path}: a folder of that name exists.");
        string temporary = Path.Combine(parent, $".{Path.GetFileNameWithoutExtension(full)}.partial-{Guid.NewGuid():N}{Path.GetExtension(full)}");
        Run(path, () =>
        {
            write(temporary);
            File.Move(temporary, full, overwrite: true);
        }, () => File.Delete(temporary));
    }

    /// <summary>
    /// Calls <paramref name="write"/> with a new temporary folder beside <paramref name="folder"/>, then puts it in
    /// place. An existing folder is replaced only when every entry in it passes <paramref name="replaceable"/>
    /// (the files of an earlier write), so no other file is ever deleted.
    /// </summary>
    /// <exception cref="VideoIOException">The parent folder does not exist, the folder holds other files, or writing failed.</exception>
    public static void WriteFolder(string folder, Func<string, bool> replaceable, Action<string> write)
    {
        var (full, parent) = Locate(folder);
        if (File.Exists(full)) throw new VideoIOException($"Cannot write frames to {folder}: it is a file.");
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).FirstOrDefault(e => !replaceable(Path.GetFileName(e))) is { } other)
            throw new VideoIOException($"Cannot write frames to {folder}: it holds {Path.GetFileName(other)}, which an earlier write did not make; choose a new or empty folder.");
        string name = Path.GetFileName(full);
        string temporary = Path.Combine(parent, $".{name}.partial-{Guid.NewGuid():N}");
        string previous = Path.Combine(parent, $".{name}.previous-{Guid.NewGuid():N}");
        Run(folder, () =>
        {
            Directory.CreateDirectory(temporary);
            write(temporary);
            if (!Directory.Exists(full))
            {
                Directory.Move(temporary, full);
                return;
            }
            // Moved aside first so that a failed move of the new frames can put the old ones back.
            Directory.Move(full, previous);
            try { Directory.Move(temporary, full); }
            catch { Directory.Move(previous, full); throw; }
            Directory.Delete(previous, recursive: true);
        }, () => { if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true); });
    }

    static (string Full, string Parent) Locate(string path)
    {
        string full = Path.GetFullPath(path);
        string parent = Path.GetDirectoryName(full) ?? throw new VideoIOException($"Cannot write {path}: it names no file or folder.");
        if (!Directory.Exists(parent)) throw new VideoIOException($"Cannot write {path}: the folder {parent} does not exist.");
        return (full, parent);
    }

    static void Run(string path, Action write, Action removeTemporary)
    {
        try
        {
            write();
        }
        catch (Exception error)
        {
            try { removeTemporary(); }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                throw new VideoIOException($"Could not write {path} ({error.Message}), and the temporary output could not be removed: {cleanup.Message}", error);
            }
            if (error is (IOException or UnauthorizedAccessException) and not VideoIOException)
                throw new VideoIOException($"Could not write {path}: {error.Message}", error);
            throw;
        }
    }
}
