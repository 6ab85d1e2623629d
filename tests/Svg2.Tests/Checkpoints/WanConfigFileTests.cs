using Svg2.Models.Checkpoints;
using Svg2.Models.Wan;

namespace Svg2.Tests.Checkpoints;

public sealed class WanConfigFileTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("svg2-wan-config-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    string Write(string json)
    {
        string path = Path.Combine(_directory, $"config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    public static TheoryData<string> Presets => new() { "t2v-1.3B", "t2v-14B", "i2v-14B" };

    [Theory]
    [MemberData(nameof(Presets))]
    public void ReadsThePublicConfigurationsOfBothLayouts(string preset)
    {
        var config = WanConfig.Named(preset);
        // The official files leave out text_dim (it is in the model's ignore_for_config list).
        Assert.Equal(config, WanConfigFile.Read(Write(WanFolders.OfficialConfigJson(config, withTextDim: false))));
        Assert.Equal(config, WanConfigFile.Read(Write(WanFolders.DiffusersConfigJson(config))));
    }

    [Fact]
    public void ReadsTheOfficialT2V13BFileAsPublished()
    {
        const string published = """
            {"_class_name": "WanModel", "_diffusers_version": "0.30.0", "dim": 1536, "eps": 1e-06, "ffn_dim": 8960,
             "freq_dim": 256, "in_dim": 16, "model_type": "t2v", "num_heads": 12, "num_layers": 30, "out_dim": 16, "text_len": 512}
            """;
        Assert.Equal(WanConfig.TextToVideo1_3B, WanConfigFile.Read(Write(published)));
    }

    [Theory]
    [InlineData("""{"_class_name": "WanModel", "model_type": "flf2v", "dim": 5120, "ffn_dim": 13824, "in_dim": 36, "out_dim": 16, "num_heads": 40, "num_layers": 40}""", "model_type 'flf2v' is not supported")]
    [InlineData("""{"_class_name": "WanModel", "model_type": "t2v", "dim": 1536, "ffn_dim": 8960, "in_dim": 16, "out_dim": 16, "num_heads": 12, "num_layers": 30, "window_size": [8, 8]}""", "local attention")]
    [InlineData("""{"_class_name": "WanModel", "model_type": "t2v", "ffn_dim": 8960, "in_dim": 16, "out_dim": 16, "num_heads": 12, "num_layers": 30}""", "lacks 'dim'")]
    [InlineData("""{"_class_name": "WanModel", "model_type": "t2v", "dim": "1536", "ffn_dim": 8960, "in_dim": 16, "out_dim": 16, "num_heads": 12, "num_layers": 30}""", "'dim' must be an integer")]
    [InlineData("""{"_class_name": "WanModel", "model_type": "t2v", "dim": 1536, "ffn_dim": 8960, "in_dim": 16, "out_dim": 16, "num_heads": 7, "num_layers": 30}""", "impossible model")]
    [InlineData("""{"_class_name": "WanTransformer3DModel", "num_attention_heads": 40, "attention_head_dim": 128, "in_channels": 36, "ffn_dim": 13824, "num_layers": 40, "qk_norm": "rms_norm_across_heads", "image_dim": 1280, "pos_embed_seq_len": 514}""", "first-last-frame")]
    [InlineData("""{"_class_name": "WanTransformer3DModel", "num_attention_heads": 12, "attention_head_dim": 128, "in_channels": 16, "ffn_dim": 8960, "num_layers": 30, "qk_norm": "rms_norm"}""", "qk_norm 'rms_norm'")]
    [InlineData("""{"_class_name": "WanVACETransformer3DModel"}""", "describes a WanVACETransformer3DModel")]
    [InlineData("""[1, 2]""", "does not hold a JSON object")]
    [InlineData("""{"dim": """, "not valid JSON")]
    public void RefusesWhatItCannotLoad(string json, string message)
    {
        string path = Write(json);
        var error = Assert.Throws<CheckpointException>(() => WanConfigFile.Read(path));
        Assert.Contains(message, error.Message);
        Assert.Contains(path, error.Message);
    }
}
