using System.Text.Json;

namespace Svg2.Models.Checkpoints;

/// <summary>
/// One JSON configuration file of a model folder (config.json, model_index.json, scheduler_config.json),
/// with typed field access whose errors name the file and the field.
/// </summary>
internal sealed class ConfigJson : IDisposable
{
    readonly JsonDocument _document;

    ConfigJson(string path, JsonDocument document) => (Path, _document) = (path, document);

    /// <summary>The file, for messages.</summary>
    public string Path { get; }

    /// <summary>Parses a file that must hold a JSON object.</summary>
    /// <exception cref="CheckpointException">The file is missing, not JSON or not an object.</exception>
    public static ConfigJson Open(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path} does not exist.");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path} is not valid JSON: {e.Message}", e);
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new CheckpointException($"{path} does not hold a JSON object.");
        }
        return new ConfigJson(path, document);
    }

    /// <summary>True when the field is present and not null.</summary>
    public bool Has(string name) => _document.RootElement.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>The raw field, or null when absent.</summary>
    public JsonElement? Field(string name) => _document.RootElement.TryGetProperty(name, out var value) ? value : null;

    /// <summary>An integer field; <paramref name="fallback"/> when absent or null, an error when absent without one.</summary>
    public int Int(string name, int? fallback = null)
    {
        if (!Has(name)) return fallback ?? throw Missing(name, "an integer");
        var value = _document.RootElement.GetProperty(name);
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int result) ? result : throw Wrong(name, "an integer", value);
    }

    /// <summary>A number field; <paramref name="fallback"/> when absent or null, an error when absent without one.</summary>
    public double Double(string name, double? fallback = null)
    {
        if (!Has(name)) return fallback ?? throw Missing(name, "a number");
        var value = _document.RootElement.GetProperty(name);
        return value.ValueKind == JsonValueKind.Number ? value.GetDouble() : throw Wrong(name, "a number", value);
    }

    /// <summary>A string field, or null when absent or null.</summary>
    public string? String(string name)
    {
        if (!Has(name)) return null;
        var value = _document.RootElement.GetProperty(name);
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw Wrong(name, "a string", value);
    }

    /// <summary>A boolean field, or <paramref name="fallback"/> when absent or null.</summary>
    public bool Bool(string name, bool fallback)
    {
        if (!Has(name)) return fallback;
        var value = _document.RootElement.GetProperty(name);
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(name, "true or false", value),
        };
    }

    /// <summary>An array of integers, or null when absent or null.</summary>
    public int[]? Ints(string name)
    {
        if (!Has(name)) return null;
        var value = _document.RootElement.GetProperty(name);
        if (value.ValueKind != JsonValueKind.Array) throw Wrong(name, "an array of integers", value);
        return value.EnumerateArray().Select(item => item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out int i) ? i
            : throw Wrong(name, "an array of integers", value)).ToArray();
    }

    CheckpointException Missing(string name, string what) => new($"{Path} lacks '{name}' ({what}).");

    CheckpointException Wrong(string name, string what, JsonElement value) => new($"{Path}: '{name}' must be {what}; found {value.GetRawText()}.");

    /// <inheritdoc/>
    public void Dispose() => _document.Dispose();
}
