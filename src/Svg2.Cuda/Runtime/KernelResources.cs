namespace Svg2.Cuda.Runtime;

/// <summary>What ptxas reports of one compiled kernel: its registers a thread, local memory and static shared memory, and its code size.</summary>
/// <param name="Kernel">The entry function's name.</param>
/// <param name="Registers">Registers a thread (before any <c>setmaxnreg</c> at run time).</param>
/// <param name="StackBytes">Stack frame bytes a thread.</param>
/// <param name="SpillStoreBytes">Bytes a thread spills to local memory.</param>
/// <param name="SpillLoadBytes">Bytes a thread loads back from its spills.</param>
/// <param name="SharedBytes">Static shared memory of a block (dynamic shared memory is set at launch, not here).</param>
/// <param name="Warnings">ptxas warnings about the kernel, such as serialised warpgroup MMAs.</param>
public sealed record KernelResources(string Kernel, int Registers, int StackBytes, int SpillStoreBytes, int SpillLoadBytes, int SharedBytes,
    IReadOnlyList<string> Warnings)
{
    /// <summary>SASS instructions of the kernel's code (its code section's size; 0 where unknown).</summary>
    public int Instructions { get; init; }

    /// <summary>Whether the kernel spills registers to local memory.</summary>
    public bool Spills => SpillStoreBytes > 0 || SpillLoadBytes > 0;
}
