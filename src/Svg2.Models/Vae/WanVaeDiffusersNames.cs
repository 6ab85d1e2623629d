using System.Globalization;

namespace Svg2.Models.Vae;

/// <summary>
/// The name in diffusers' <c>AutoencoderKLWan</c> of each official VAE tensor name (the model's own).
/// </summary>
/// <remarks>
/// diffusers renames the top-level quant convolutions (conv1, conv2 to quant_conv, post_quant_conv),
/// the encoder's and decoder's conv1 and head (conv_in, norm_out, conv_out), the residual block's
/// positions (residual.0/2/3/6 to norm1, conv1, norm2, conv2; shortcut to conv_shortcut) and the middle
/// blocks (middle.0/1/2 to mid_block.resnets.0, attentions.0, resnets.1). The encoder's downsamples
/// keep their flat positions as down_blocks.{i}; the decoder's flat upsamples are grouped per stage,
/// NumResBlocks + 1 residual blocks and one resampling each: upsamples.{i} becomes
/// up_blocks.{i / (R + 2)}.resnets.{i % (R + 2)}, or up_blocks.{i / (R + 2)}.upsamplers.0 for the
/// stage's last entry. Shapes are the same under both names.
/// </remarks>
public static class WanVaeDiffusersNames
{
    /// <summary>The map for a configuration, as <see cref="Checkpoints.ParameterLoader"/> takes it.</summary>
    public static Func<string, string> For(WanVaeConfig config) => name => Of(name, config.NumResBlocks);

    /// <summary>The diffusers name of the official tensor <paramref name="name"/>.</summary>
    /// <param name="name">An official name such as "decoder.upsamples.4.shortcut.weight".</param>
    /// <param name="numResBlocks">Residual blocks per encoder stage (2 for Wan 2.1).</param>
    /// <exception cref="ArgumentException">The name is no VAE tensor name.</exception>
    public static string Of(string name, int numResBlocks)
    {
        var parts = name.Split('.');
        string Fail() => throw new ArgumentException($"'{name}' is not a Wan VAE tensor name.", nameof(name));
        if (parts.Length == 2)
            return parts[0] switch { "conv1" => "quant_conv." + parts[1], "conv2" => "post_quant_conv." + parts[1], _ => Fail() };
        if (parts.Length < 3 || parts[0] is not ("encoder" or "decoder")) return Fail();

        string side = parts[0];
        string Rest(int from) => string.Join('.', parts[from..]);
        switch (parts[1])
        {
            case "conv1":
                return $"{side}.conv_in.{Rest(2)}";
            case "head" when parts.Length == 4:
                return parts[2] switch { "0" => $"{side}.norm_out.{parts[3]}", "2" => $"{side}.conv_out.{parts[3]}", _ => Fail() };
            case "middle":
                return Index(parts[2]) switch
                {
                    0 => $"{side}.mid_block.resnets.0.{ResidualPart(Rest(3)) ?? Fail()}",
                    1 => $"{side}.mid_block.attentions.0.{Rest(3)}",
                    2 => $"{side}.mid_block.resnets.1.{ResidualPart(Rest(3)) ?? Fail()}",
                    _ => Fail(),
                };
            case "downsamples" when side == "encoder":
                return $"{side}.down_blocks.{parts[2]}.{ResidualPart(Rest(3)) ?? ResamplePart(Rest(3)) ?? Fail()}";
            case "upsamples" when side == "decoder":
                int index = Index(parts[2]), perStage = numResBlocks + 2, stage = index / perStage, position = index % perStage;
                return position <= numResBlocks
                    ? $"{side}.up_blocks.{stage}.resnets.{position}.{ResidualPart(Rest(3)) ?? Fail()}"
                    : $"{side}.up_blocks.{stage}.upsamplers.0.{ResamplePart(Rest(3)) ?? Fail()}";
            default:
                return Fail();
        }

        int Index(string text) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : -1;
    }

    // A resampling's tensor (the same name under both namings), or null when the name is not one.
    static string? ResamplePart(string rest) =>
        rest.Split('.') is ["resample", "1", _] or ["time_conv", _] ? rest : null;

    // A residual block's tensor under diffusers' names, or null when the name is not one (a resampling's).
    static string? ResidualPart(string rest)
    {
        var parts = rest.Split('.');
        if (parts is ["shortcut", var parameter]) return "conv_shortcut." + parameter;
        if (parts is not ["residual", var position, var tensor]) return null;
        return position switch
        {
            "0" => "norm1." + tensor,
            "2" => "conv1." + tensor,
            "3" => "norm2." + tensor,
            "6" => "conv2." + tensor,
            _ => null,
        };
    }
}
