using Svg2.Attention.Fp8;
using static TorchSharp.torch;

namespace Svg2.Tests.Attention.Fp8;

/// <summary>
/// FP8 E4M3 rounding against the format's definition: the 256 codes decoded by hand, and round to nearest,
/// ties to the even code, with saturation to ±448.
/// </summary>
public class E4M3Tests
{
    /// <summary>Code → value from the definition: bias 7, 3 mantissa bits, exponent field 0 subnormal, S.1111.111 NaN.</summary>
    static float Decode(int code)
    {
        int sign = code >> 7, exponent = (code >> 3) & 0xF, mantissa = code & 0x7;
        if (exponent == 0xF && mantissa == 0x7) return float.NaN;
        double magnitude = exponent == 0 ? mantissa * Math.Pow(2, -9) : (1 + mantissa / 8.0) * Math.Pow(2, exponent - 7);
        return (float)(sign == 1 ? -magnitude : magnitude);
    }

    /// <summary>The non-negative finite codes in increasing value (0x00 to 0x7E).</summary>
    static readonly (int Code, float Value)[] NonNegative = Enumerable.Range(0, 0x7F).Select(c => (c, Decode(c))).ToArray();

    /// <summary>Round to nearest, ties to the even code, saturating: from the table alone.</summary>
    static float RoundByTable(float x)
    {
        if (float.IsNaN(x)) return float.NaN;
        float a = Math.Min(Math.Abs(x), 448f);
        int above = Array.FindIndex(NonNegative, e => e.Value >= a);
        var (upperCode, upper) = NonNegative[above];
        float result = upper;
        if (upper != a)
        {
            var (lowerCode, lower) = NonNegative[above - 1];
            double toLower = (double)a - lower, toUpper = (double)upper - a;
            result = toLower < toUpper || (toLower == toUpper && lowerCode % 2 == 0) ? lower : upper;
        }
        return x < 0 ? -result : result;
    }

    static float[] Round(params float[] values)
    {
        using var input = tensor(values);
        using var rounded = E4M3.Round(input);
        return rounded.data<float>().ToArray();
    }

    [Fact]
    public void TheTableHasTheFormatsLandmarks()
    {
        Assert.Equal(448f, Decode(0x7E));
        Assert.Equal(E4M3.MinNormal, Decode(0x08));
        Assert.Equal(E4M3.MinSubnormal, Decode(0x01));
        Assert.Equal(0.875f * E4M3.MinNormal, Decode(0x07));
        Assert.True(float.IsNaN(Decode(0xFF)));
        Assert.Equal(-2f, Decode(0xC0));
        // Increasing: every code 0x00-0x7E is a distinct value, and they are ordered.
        Assert.All(NonNegative.Zip(NonNegative.Skip(1)), pair => Assert.True(pair.First.Value < pair.Second.Value));
    }

    [Theory]
    [InlineData(1f, 1f)]                      // normal, exact
    [InlineData(1.0625f, 1f)]                 // tie between 1 (even) and 1.125
    [InlineData(1.1875f, 1.25f)]              // tie between 1.125 and 1.25 (even)
    [InlineData(1.07f, 1.125f)]               // nearest
    [InlineData(17f, 16f)]                    // tie between 16 (even) and 18
    [InlineData(19f, 20f)]                    // tie between 18 and 20 (even)
    [InlineData(240f, 240f)]
    [InlineData(432f, 448f)]                  // tie between 416 and 448 (even: 1.110 x 2^8)
    [InlineData(448f, 448f)]                  // the maximum
    [InlineData(460f, 448f)]                  // above the maximum: saturates
    [InlineData(500f, 448f)]
    [InlineData(1e30f, 448f)]
    [InlineData(-3.3f, -3.25f)]               // sign kept
    [InlineData(0.015625f, 0.015625f)]        // 2^-6, the smallest normal
    [InlineData(0.0146484375f, 0.015625f)]    // 7.5 x 2^-9: tie between 7 x 2^-9 (code 0x07) and 2^-6 (0x08, even)
    [InlineData(0.001953125f, 0.001953125f)]  // 2^-9, the smallest subnormal
    [InlineData(0.0009765625f, 0f)]           // 2^-10: tie between 0 (even) and 2^-9
    [InlineData(0.00146484375f, 0.001953125f)] // 0.75 x 2^-9: nearest is 2^-9
    [InlineData(0.0029296875f, 0.00390625f)]  // 1.5 x 2^-9: tie between 2^-9 and 2 x 2^-9 (even)
    [InlineData(1e-30f, 0f)]                  // underflow
    public void RoundsToNearestEvenWithSaturation(float input, float expected)
    {
        Assert.Equal(expected, Round(input)[0]);
        Assert.Equal(expected, RoundByTable(input));
    }

    [Fact]
    public void InfinitySaturatesAndNaNStaysNaN()
    {
        var rounded = Round(float.PositiveInfinity, float.NegativeInfinity, float.NaN, -0f);
        Assert.Equal(448f, rounded[0]);
        Assert.Equal(-448f, rounded[1]);
        Assert.True(float.IsNaN(rounded[2]));
        Assert.Equal(0f, rounded[3]);
    }

    [Fact]
    public void EveryCodeAndEveryMidpointRoundsAsTheTableSays()
    {
        var values = NonNegative.Select(e => e.Value).ToList();
        var inputs = new List<float>(values);
        for (int i = 0; i + 1 < values.Count; i++)
        {
            float middle = (values[i] + values[i + 1]) / 2; // exact in float32
            inputs.AddRange([middle, BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(middle) - 1),
                BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(middle) + 1)]);
        }
        inputs.AddRange(inputs.Select(x => -x).ToList());
        var expected = inputs.Select(RoundByTable).ToArray();
        Assert.Equal(expected, Round([.. inputs]));
    }

    [Fact]
    public void RandomFloatsRoundAsTheTableSays()
    {
        using var generator = TestTensors.Seeded(41);
        // Log-uniform magnitudes from 2^-12 to 2^10 with random signs: subnormals, normals and saturation.
        using var magnitudes = exp2(rand([20000], generator: generator) * 22 - 12);
        using var signs = rand([20000], generator: generator).lt(0.5).to(ScalarType.Float32) * 2 - 1;
        using var inputs = magnitudes * signs;
        var values = inputs.data<float>().ToArray();
        Assert.Equal(values.Select(RoundByTable).ToArray(), Round(values));
    }

    [Fact]
    public void EncodingTakesOneBytePerElementAndDecodesExactly()
    {
        using var input = tensor(new[] { 0.5f, -448f, 3e-3f, 1000f });
        using var encoded = E4M3.Encode(input);
        Assert.Equal(E4M3.Type, encoded.dtype);
        Assert.Equal(1, encoded.ElementSize);
        using var decoded = E4M3.Decode(encoded);
        Assert.Equal(new[] { 0.5f, -448f, RoundByTable(3e-3f), 448f }, decoded.data<float>().ToArray());
        Assert.Throws<ArgumentException>(() => E4M3.Decode(input));
    }
}
