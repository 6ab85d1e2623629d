namespace Svg2.Cuda.Runtime;

/// <summary>
/// One kernel parameter as the 8 bytes the driver copies from (it reads as many as the parameter's
/// size, so 4-byte values live in the low half on this little-endian platform).
/// </summary>
public readonly struct KernelArgument
{
    internal readonly ulong Bits;

    KernelArgument(ulong bits) => Bits = bits;

    /// <summary>A 32-bit integer parameter.</summary>
    public static implicit operator KernelArgument(int value) => new((uint)value);

    /// <summary>A 64-bit integer parameter.</summary>
    public static implicit operator KernelArgument(long value) => new((ulong)value);

    /// <summary>A float parameter.</summary>
    public static implicit operator KernelArgument(float value) => new(BitConverter.SingleToUInt32Bits(value));

    /// <summary>A double parameter.</summary>
    public static implicit operator KernelArgument(double value) => new(BitConverter.DoubleToUInt64Bits(value));

    /// <summary>A device address parameter.</summary>
    public static implicit operator KernelArgument(DevicePointer pointer) => new(pointer.Address);
}
