namespace Svg2.Tests;

/// <summary>Locates the project's shared test data, given by SVG2_DATA or found next to the repository.</summary>
static class SharedData
{
    public static string Path(string file)
    {
        var root = Environment.GetEnvironmentVariable("SVG2_DATA");
        if (!string.IsNullOrEmpty(root)) return System.IO.Path.Combine(root, file);
        // The shared data folder sits beside the repository checkout.
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null)
        {
            var candidate = System.IO.Path.Combine(directory.FullName, "shared", "data", file);
            if (File.Exists(candidate)) return candidate;
            directory = directory.Parent;
        }
        return file;
    }
}
