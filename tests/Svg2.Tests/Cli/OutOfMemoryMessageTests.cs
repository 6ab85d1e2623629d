using System.Runtime.InteropServices;
using Svg2.Cli.Commands;

namespace Svg2.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public class OutOfMemoryMessageTests
{
    const string TorchMessage = "CUDA out of memory. Tried to allocate 24.00 GiB. GPU 0 has a total capacity of 79.19 GiB of which 3.12 GiB is free.\n" +
                                "Including non-PyTorch memory, this process has 76.06 GiB memory in use.";

    [Fact]
    public void Describe_NamesTheAllocationAndTheOptionsThatLowerIt()
    {
        var error = new ExternalException(TorchMessage);
        Assert.True(OutOfMemoryMessage.Matches(error));
        string message = OutOfMemoryMessage.Describe(error);
        Assert.Contains("Tried to allocate 24.00 GiB", message);
        Assert.Contains("--qc/--kc", message);
        Assert.DoesNotContain("\n", message);
    }

    [Fact]
    public void Run_TurnsAnAllocationFailureIntoExitCode2WithOneLine()
    {
        var (code, text) = StandardError.Capture(() => CommandErrors.Run(() => throw new ExternalException(TorchMessage)));
        Assert.Equal(2, code);
        Assert.StartsWith("error: the GPU ran out of memory", text.Trim());
        Assert.Single(text.Trim().Split('\n'));
    }

    [Fact]
    public void Matches_IgnoresOtherErrors() => Assert.False(OutOfMemoryMessage.Matches(new ExternalException("shape mismatch")));
}
