namespace Svg2.Tests;
public class SmokeTests
{
    [Fact]
    public void TorchLoads() => Assert.Equal(4, TorchSharp.torch.zeros(1, 2, 3, 4).shape.Length);
}
