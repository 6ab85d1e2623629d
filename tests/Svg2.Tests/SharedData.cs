namespace Svg2.Tests;

/// <summary>Locates the real-data files kept in the repository's tests/data folder.</summary>
static class SharedData
{
    public static string Path(string file)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = System.IO.Path.Combine(directory.FullName, "tests", "data", file);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"tests/data/{file} was not found above {AppContext.BaseDirectory}.");
    }
}
