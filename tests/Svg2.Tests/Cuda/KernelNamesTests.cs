using System.Text.RegularExpressions;
using Svg2.Cuda.Runtime;

namespace Svg2.Tests.Cuda;

/// <summary>The kernels a library loads by name are exactly those its embedded sources define.</summary>
public class KernelNamesTests
{
    public static TheoryData<string> Programs => [.. KernelSources.Programs, .. KernelSources.HopperPrograms];

    [Theory]
    [MemberData(nameof(Programs))]
    public void EveryExternKernelOfAProgramIsListedAndNoOther(string program)
    {
        var defined = Regex.Matches(KernelSources.Read(program), @"extern ""C"" __global__ void(?:\s+__launch_bounds__\([^)]*\))?\s+(\w+)\s*\(")
            .Select(m => m.Groups[1].Value).Order().ToArray();
        Assert.NotEmpty(defined);
        Assert.Equal(defined, KernelLibrary.KernelNames(program).Order().ToArray());
    }
}
