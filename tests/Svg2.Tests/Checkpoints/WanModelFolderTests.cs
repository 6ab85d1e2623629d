using Svg2.Models.Checkpoints;
using Svg2.Models.Pipelines;
using Svg2.Models.Wan;
using Svg2.Tests.Models;
using static TorchSharp.torch;

namespace Svg2.Tests.Checkpoints;

public sealed class WanModelFolderTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("svg2-wan-folder-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    string Folder(string name) => Path.Combine(_directory, name);

    static void AssertSameParameters(WanModel expected, WanModel actual)
    {
        var want = expected.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in actual.named_parameters())
            Assert.True(parameter.eq(want[name]).all().item<bool>(), $"{name} differs");
    }

    [Fact]
    public void FindsEveryComponentOfTheOfficialLayout()
    {
        var config = TinyWan.Config();
        using var model = TinyWan.Model(21, config);
        string root = Folder("Wan2.1-T2V-tiny");
        WanFolders.Official(root, model);
        File.Copy(SharedData.Path("pth/synthetic.pth"), Path.Combine(root, WanModelFolder.OfficialTextEncoderFile), overwrite: true);

        var folder = WanModelFolder.Open(root);
        Assert.Equal(WanFolderLayout.Official, folder.Layout);
        // A text-to-video file has no image width; the default stands.
        Assert.Equal(config with { ImageDim = 1280 }, folder.Config);
        Assert.Equal(root, folder.TransformerPath);
        Assert.Equal(Path.Combine(root, "models_t5_umt5-xxl-enc-bf16.pth"), folder.TextEncoderPath);
        Assert.Equal(Path.Combine(root, "Wan2.1_VAE.pth"), folder.VaePath);
        Assert.Equal(Path.Combine(root, "google", "umt5-xxl"), folder.TokenizerPath);
        Assert.Null(folder.ImageEncoderPath);
        Assert.Null(folder.SchedulerConfigPath);
        Assert.Null(folder.FlowShift);

        using (var textEncoder = folder.OpenTextEncoderWeights())
        {
            Assert.IsType<PthTensorSource>(textEncoder);
            Assert.Contains("full", textEncoder.Names);
        }
        using var loaded = folder.LoadTransformer(CPU, ScalarType.Float32);
        AssertSameParameters(model, loaded);
        Assert.Throws<InvalidOperationException>(() => folder.OpenImageEncoderWeights());
    }

    [Fact]
    public void FindsTheImageToVideoComponentsOfTheOfficialLayout()
    {
        string root = Folder("Wan2.1-I2V-14B");
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "config.json"), WanFolders.OfficialConfigJson(WanConfig.ImageToVideo14B, withTextDim: false));
        foreach (var file in new[] { "diffusion_pytorch_model.safetensors.index.json", "models_t5_umt5-xxl-enc-bf16.pth", "Wan2.1_VAE.pth",
                     "google/umt5-xxl/tokenizer.json", "models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth", "xlm-roberta-large/tokenizer.json" })
            WanFolders.Touch(root, file);

        var folder = WanModelFolder.Open(root);
        Assert.Equal(WanConfig.ImageToVideo14B, folder.Config);
        Assert.Equal(Path.Combine(root, "models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth"), folder.ImageEncoderPath);
        Assert.Equal(Path.Combine(root, "xlm-roberta-large"), folder.ClipTokenizerPath);
        Assert.Null(folder.ImageProcessorPath);
    }

    [Fact]
    public void NamesEveryMissingOfficialComponent()
    {
        string root = Folder("incomplete");
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "config.json"), WanFolders.OfficialConfigJson(WanConfig.ImageToVideo14B));
        WanFolders.Touch(root, "Wan2.1_VAE.pth");
        var error = Assert.Throws<CheckpointException>(() => WanModelFolder.Open(root));
        Assert.Contains("official Wan 2.1 layout", error.Message);
        Assert.Contains("diffusion_pytorch_model.safetensors or diffusion_pytorch_model.safetensors.index.json", error.Message);
        Assert.Contains("models_t5_umt5-xxl-enc-bf16.pth", error.Message);
        Assert.Contains("google/umt5-xxl/spiece.model or google/umt5-xxl/tokenizer.json", error.Message);
        Assert.Contains("models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth", error.Message);
        Assert.DoesNotContain("Wan2.1_VAE.pth", error.Message);
    }

    [Theory]
    [InlineData(WanModelType.TextToVideo)]
    [InlineData(WanModelType.ImageToVideo)]
    public void FindsEveryComponentOfTheDiffusersLayout(WanModelType type)
    {
        var config = TinyWan.Config(type);
        using var model = TinyWan.Model(22, config);
        string root = Folder($"Wan2.1-{type}-Diffusers");
        WanFolders.Diffusers(root, model, flowShift: 5.0);

        var folder = WanModelFolder.Open(root);
        Assert.Equal(WanFolderLayout.Diffusers, folder.Layout);
        Assert.Equal(config with { TextLength = 512, ImageDim = type == WanModelType.ImageToVideo ? config.ImageDim : 1280 }, folder.Config);
        Assert.Equal(Path.Combine(root, "transformer"), folder.TransformerPath);
        Assert.Equal(Path.Combine(root, "text_encoder"), folder.TextEncoderPath);
        Assert.Equal(Path.Combine(root, "tokenizer"), folder.TokenizerPath);
        Assert.Equal(Path.Combine(root, "vae"), folder.VaePath);
        Assert.Equal(Path.Combine(root, "scheduler", "scheduler_config.json"), folder.SchedulerConfigPath);
        Assert.Equal(5.0, folder.FlowShift);
        bool image = type == WanModelType.ImageToVideo;
        Assert.Equal(image ? Path.Combine(root, "image_encoder") : null, folder.ImageEncoderPath);
        Assert.Equal(image ? Path.Combine(root, "image_processor") : null, folder.ImageProcessorPath);

        using var loaded = new WanModel(folder.Config with { TextLength = config.TextLength }, CPU);
        WanCheckpoint.Load(loaded, folder.TransformerPath);
        AssertSameParameters(model, loaded);
        using var weights = folder.OpenTransformerWeights();
        Assert.Contains("condition_embedder.time_proj.weight", weights.Names);
    }

    [Fact]
    public void NamesEveryMissingDiffusersComponent()
    {
        using var model = TinyWan.Model(23, TinyWan.Config(WanModelType.ImageToVideo));
        string root = Folder("partial-diffusers");
        WanFolders.Diffusers(root, model);
        Directory.Delete(Path.Combine(root, "vae"), recursive: true);
        File.Delete(Path.Combine(root, "text_encoder", "config.json"));
        File.Delete(Path.Combine(root, "image_processor", "preprocessor_config.json"));
        var error = Assert.Throws<CheckpointException>(() => WanModelFolder.Open(root));
        Assert.Contains("diffusers layout", error.Message);
        Assert.Contains("the VAE (vae/diffusion_pytorch_model.safetensors or vae/diffusion_pytorch_model.safetensors.index.json)", error.Message);
        Assert.Contains("the umT5 text encoder's configuration (text_encoder/config.json)", error.Message);
        Assert.Contains("image_processor/preprocessor_config.json", error.Message);
        Assert.DoesNotContain("transformer", error.Message.Replace(root, ""));
    }

    [Fact]
    public void RefusesFoldersOfNeitherLayout()
    {
        string empty = Folder("empty");
        Directory.CreateDirectory(empty);
        var error = Assert.Throws<CheckpointException>(() => WanModelFolder.Open(empty));
        Assert.Contains("neither config.json", error.Message);
        Assert.Contains("model_index.json", error.Message);
        Assert.Throws<DirectoryNotFoundException>(() => WanModelFolder.Open(Folder("absent")));
    }

    [Fact]
    public void PointsFromADiffusersTransformerFolderToItsParent()
    {
        using var model = TinyWan.Model(24);
        string root = Folder("diffusers");
        WanFolders.Diffusers(root, model);
        var error = Assert.Throws<CheckpointException>(() => WanModelFolder.Open(Path.Combine(root, "transformer")));
        Assert.Contains("transformer folder of a diffusers layout", error.Message);
    }

    [Fact]
    public void RefusesPipelinesItCannotRun()
    {
        using var model = TinyWan.Model(25);
        string root = Folder("wan22");
        WanFolders.Diffusers(root, model);
        File.WriteAllText(Path.Combine(root, "model_index.json"),
            """{"_class_name": "WanPipeline", "transformer": ["diffusers", "WanTransformer3DModel"], "transformer_2": ["diffusers", "WanTransformer3DModel"]}""");
        Assert.Contains("Wan 2.2", Assert.Throws<CheckpointException>(() => WanModelFolder.Open(root)).Message);

        File.WriteAllText(Path.Combine(root, "model_index.json"), """{"_class_name": "WanVACEPipeline"}""");
        Assert.Contains("WanVACEPipeline", Assert.Throws<CheckpointException>(() => WanModelFolder.Open(root)).Message);

        File.WriteAllText(Path.Combine(root, "model_index.json"), """{"_class_name": "WanImageToVideoPipeline"}""");
        Assert.Contains("describes a TextToVideo transformer", Assert.Throws<CheckpointException>(() => WanModelFolder.Open(root)).Message);
    }
}
