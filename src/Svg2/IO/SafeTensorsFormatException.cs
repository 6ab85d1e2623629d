namespace Svg2.IO;

/// <summary>
/// A safetensors file that cannot be read: truncated, with a malformed header, an unknown dtype, data
/// offsets outside the data section, or a requested tensor that is not in it.
/// </summary>
public sealed class SafeTensorsFormatException : Exception
{
    /// <summary>Creates the exception with a message that names the file and the problem.</summary>
    public SafeTensorsFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with the failure that revealed the problem.</summary>
    public SafeTensorsFormatException(string message, Exception inner) : base(message, inner) { }
}
