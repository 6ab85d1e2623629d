using Svg2.Models.Checkpoints;
using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Models.Pipelines;

/// <summary>
/// A Wan 2.1 model folder in either published layout (<see cref="WanFolderLayout"/>): where each component
/// is, the transformer's configuration, and tensor sources for the weights. Finding the folder reads only
/// its JSON files; weights are opened on request.
/// </summary>
/// <remarks>
/// Paths of safetensors components (<see cref="TransformerPath"/>, and in the diffusers layout
/// <see cref="TextEncoderPath"/>, <see cref="VaePath"/>, <see cref="ImageEncoderPath"/>) are folders that
/// hold the single file or its shard index; the official layout's umT5, VAE and CLIP weights are .pth files.
/// Tensor names follow the layout: official names (the public Wan code's modules) or diffusers' and
/// transformers' (UMT5EncoderModel, AutoencoderKLWan, CLIPVisionModelWithProjection); the transformer is
/// loaded under either by <see cref="WanCheckpoint"/>.
/// </remarks>
public sealed class WanModelFolder
{
    /// <summary>The official umT5-XXL encoder weights (bf16 state dict).</summary>
    public const string OfficialTextEncoderFile = "models_t5_umt5-xxl-enc-bf16.pth";

    /// <summary>The official VAE weights (float32 state dict).</summary>
    public const string OfficialVaeFile = "Wan2.1_VAE.pth";

    /// <summary>The official CLIP (open-clip XLM-RoBERTa-large ViT-H/14) weights of image to video.</summary>
    public const string OfficialImageEncoderFile = "models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth";

    /// <summary>The official umT5 tokenizer folder.</summary>
    public const string OfficialTokenizerFolder = "google/umt5-xxl";

    /// <summary>The official tokenizer folder of the CLIP text tower (image to video; inference does not use it).</summary>
    public const string OfficialClipTokenizerFolder = "xlm-roberta-large";

    const string ModelIndexFile = "model_index.json";
    const string ConfigFile = "config.json";
    const string TransformersWeights = "model.safetensors";

    WanModelFolder(string root, WanFolderLayout layout, WanConfig config)
    {
        Root = root;
        Layout = layout;
        Config = config;
    }

    /// <summary>The folder, as a full path.</summary>
    public string Root { get; }

    /// <summary>Which published layout the folder has.</summary>
    public WanFolderLayout Layout { get; }

    /// <summary>The transformer's configuration, from config.json (official) or transformer/config.json (diffusers).</summary>
    public WanConfig Config { get; }

    /// <summary>The folder holding diffusion_pytorch_model.safetensors or its index (the root, or transformer/).</summary>
    public string TransformerPath { get; private init; } = "";

    /// <summary>The umT5 encoder: the official .pth file, or the diffusers text_encoder/ folder (config.json and model.safetensors or its index).</summary>
    public string TextEncoderPath { get; private init; } = "";

    /// <summary>The umT5 tokenizer folder (spiece.model and/or tokenizer.json): google/umt5-xxl/ or tokenizer/.</summary>
    public string TokenizerPath { get; private init; } = "";

    /// <summary>The VAE: the official .pth file, or the diffusers vae/ folder (config.json and diffusion_pytorch_model.safetensors).</summary>
    public string VaePath { get; private init; } = "";

    /// <summary>Image to video: the CLIP image encoder (official .pth file, or the diffusers image_encoder/ folder); null for text to video.</summary>
    public string? ImageEncoderPath { get; private init; }

    /// <summary>Diffusers image to video: the image_processor/ folder (preprocessor_config.json); null otherwise.</summary>
    public string? ImageProcessorPath { get; private init; }

    /// <summary>Official image to video: the xlm-roberta-large/ tokenizer folder when present; null otherwise.</summary>
    public string? ClipTokenizerPath { get; private init; }

    /// <summary>Diffusers: scheduler/scheduler_config.json; null in the official layout, whose sampler settings live in code.</summary>
    public string? SchedulerConfigPath { get; private init; }

    /// <summary>Diffusers: the scheduler's flow_shift; null in the official layout or when the file has none.</summary>
    public double? FlowShift { get; private init; }

    /// <summary>Finds the layout of a folder and every component it needs.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="CheckpointException">The folder is in neither layout, lacks components (all are named with the file names looked for), or its configuration describes a model this project does not implement.</exception>
    public static WanModelFolder Open(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Model folder not found: {folder}");
        string root = Path.GetFullPath(folder);
        if (File.Exists(Path.Combine(root, ModelIndexFile))) return OpenDiffusers(root);
        if (File.Exists(Path.Combine(root, ConfigFile))) return OpenOfficial(root);
        throw new CheckpointException($"{root} is not a Wan 2.1 model folder: it holds neither {ConfigFile} (the official layout) nor {ModelIndexFile} (the diffusers layout).");
    }

    /// <summary>The transformer's weights, under the layout's names (<see cref="WanCheckpoint.Load(WanModel, ITensorSource)"/> takes either).</summary>
    public ITensorSource OpenTransformerWeights() => SafeTensorsSource.Open(TransformerPath, WanCheckpoint.SingleFileName);

    /// <summary>The umT5 encoder's weights: the official .pth state dict, or transformers' UMT5EncoderModel safetensors.</summary>
    public ITensorSource OpenTextEncoderWeights() =>
        Layout == WanFolderLayout.Official ? PthTensorSource.Open(TextEncoderPath) : SafeTensorsSource.Open(TextEncoderPath, TransformersWeights);

    /// <summary>The VAE's weights: the official .pth state dict, or diffusers' AutoencoderKLWan safetensors.</summary>
    public ITensorSource OpenVaeWeights() =>
        Layout == WanFolderLayout.Official ? PthTensorSource.Open(VaePath) : SafeTensorsSource.Open(VaePath, WanCheckpoint.SingleFileName);

    /// <summary>The CLIP image encoder's weights (image to video).</summary>
    /// <exception cref="InvalidOperationException">The model is text to video.</exception>
    public ITensorSource OpenImageEncoderWeights()
    {
        var path = ImageEncoderPath ?? throw new InvalidOperationException($"{Root} holds a text-to-video model, which has no image encoder.");
        return Layout == WanFolderLayout.Official ? PthTensorSource.Open(path) : SafeTensorsSource.Open(path, TransformersWeights);
    }

    /// <summary>Builds the transformer of <see cref="Config"/> on a device and loads its weights, converted to <paramref name="dtype"/>.</summary>
    /// <exception cref="WanCheckpointException">The weights do not fit the configuration.</exception>
    public WanModel LoadTransformer(Device? device = null, ScalarType dtype = ScalarType.BFloat16)
    {
        var model = new WanModel(Config, device, dtype);
        try
        {
            WanCheckpoint.Load(model, TransformerPath);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    static WanModelFolder OpenOfficial(string root)
    {
        string configPath = Path.Combine(root, ConfigFile);
        using (var json = ConfigJson.Open(configPath))
            if (json.String("_class_name") == WanConfigFile.DiffusersClassName)
                throw new CheckpointException($"{root} is the transformer folder of a diffusers layout; open the folder above it, which holds {ModelIndexFile}.");
        var config = WanConfigFile.Read(configPath);
        bool image = config.ModelType == WanModelType.ImageToVideo;
        var missing = new List<string>();
        var folder = new WanModelFolder(root, WanFolderLayout.Official, config)
        {
            TransformerPath = RequireSafeTensors(root, "", WanCheckpoint.SingleFileName, "the transformer", missing),
            TextEncoderPath = RequireFile(root, OfficialTextEncoderFile, "the umT5 text encoder", missing),
            VaePath = RequireFile(root, OfficialVaeFile, "the VAE", missing),
            TokenizerPath = RequireTokenizer(root, OfficialTokenizerFolder, "the umT5 tokenizer", missing),
            ImageEncoderPath = image ? RequireFile(root, OfficialImageEncoderFile, "the CLIP image encoder", missing) : null,
            ClipTokenizerPath = image && Directory.Exists(Path.Combine(root, OfficialClipTokenizerFolder)) ? Path.Combine(root, OfficialClipTokenizerFolder) : null,
        };
        ThrowIfMissing(root, $"the official Wan 2.1 layout ({ConfigFile} with model_type '{(image ? "i2v" : "t2v")}')", missing);
        return folder;
    }

    static WanModelFolder OpenDiffusers(string root)
    {
        string indexPath = Path.Combine(root, ModelIndexFile);
        bool image;
        using (var index = ConfigJson.Open(indexPath))
        {
            string? pipeline = index.String("_class_name");
            image = pipeline switch
            {
                "WanPipeline" => false,
                "WanImageToVideoPipeline" => true,
                _ => throw new CheckpointException($"{indexPath} describes a {pipeline ?? "pipeline without _class_name"}; expected WanPipeline (text to video) or WanImageToVideoPipeline (image to video)."),
            };
            if (index.Field("transformer_2") is { ValueKind: System.Text.Json.JsonValueKind.Array })
                throw new CheckpointException($"{indexPath} has a second transformer (a Wan 2.2 two-expert model), which is not supported.");
        }
        var missing = new List<string>();
        string transformer = Path.Combine(root, "transformer");
        string transformerConfig = Path.Combine(transformer, ConfigFile);
        WanConfig? config = null;
        if (File.Exists(transformerConfig)) config = WanConfigFile.Read(transformerConfig);
        else missing.Add($"the transformer's configuration ({Relative(root, transformerConfig)})");
        if (config is not null && (config.ModelType == WanModelType.ImageToVideo) != image)
            throw new CheckpointException($"{indexPath} names a {(image ? "image" : "text")}-to-video pipeline, but {transformerConfig} describes a {config.ModelType} transformer.");

        string schedulerConfig = Path.Combine(root, "scheduler", "scheduler_config.json");
        double? flowShift = null;
        if (File.Exists(schedulerConfig))
        {
            using var json = ConfigJson.Open(schedulerConfig);
            flowShift = json.Has("flow_shift") ? json.Double("flow_shift") : null;
        }
        else missing.Add($"the scheduler's configuration ({Relative(root, schedulerConfig)})");

        var folder = new WanModelFolder(root, WanFolderLayout.Diffusers, config ?? new WanConfig())
        {
            TransformerPath = RequireSafeTensors(root, "transformer", WanCheckpoint.SingleFileName, "the transformer", missing),
            TextEncoderPath = RequireSafeTensors(root, "text_encoder", TransformersWeights, "the umT5 text encoder", missing, ConfigFile),
            TokenizerPath = RequireTokenizer(root, "tokenizer", "the umT5 tokenizer", missing),
            VaePath = RequireSafeTensors(root, "vae", WanCheckpoint.SingleFileName, "the VAE", missing, ConfigFile),
            ImageEncoderPath = image ? RequireSafeTensors(root, "image_encoder", TransformersWeights, "the CLIP image encoder", missing, ConfigFile) : null,
            ImageProcessorPath = image ? RequireFolderWith(root, "image_processor", "preprocessor_config.json", "the CLIP image processor", missing) : null,
            SchedulerConfigPath = schedulerConfig,
            FlowShift = flowShift,
        };
        ThrowIfMissing(root, $"the diffusers layout ({ModelIndexFile} of a {(image ? "WanImageToVideoPipeline" : "WanPipeline")})", missing);
        return folder;
    }

    static string RequireFile(string root, string file, string what, List<string> missing)
    {
        string path = Path.Combine(root, file);
        if (!File.Exists(path)) missing.Add($"{what} ({file})");
        return path;
    }

    // A safetensors component: the single file or its shard index, and optionally a configuration beside it.
    static string RequireSafeTensors(string root, string folder, string singleFile, string what, List<string> missing, string? configFile = null)
    {
        string path = Path.Combine(root, folder);
        string shown = folder.Length == 0 ? "" : folder + "/";
        if (!File.Exists(Path.Combine(path, singleFile)) && !File.Exists(Path.Combine(path, singleFile + ".index.json")))
            missing.Add($"{what} ({shown}{singleFile} or {shown}{singleFile}.index.json)");
        else if (configFile is not null && !File.Exists(Path.Combine(path, configFile)))
            missing.Add($"{what}'s configuration ({shown}{configFile})");
        return path;
    }

    static string RequireTokenizer(string root, string folder, string what, List<string> missing)
    {
        string path = Path.Combine(root, folder);
        if (!File.Exists(Path.Combine(path, "spiece.model")) && !File.Exists(Path.Combine(path, "tokenizer.json")))
            missing.Add($"{what} ({folder}/spiece.model or {folder}/tokenizer.json)");
        return path;
    }

    static string RequireFolderWith(string root, string folder, string file, string what, List<string> missing)
    {
        string path = Path.Combine(root, folder);
        if (!File.Exists(Path.Combine(path, file))) missing.Add($"{what} ({folder}/{file})");
        return path;
    }

    static void ThrowIfMissing(string root, string layout, List<string> missing)
    {
        if (missing.Count > 0)
            throw new CheckpointException($"{root} has {layout} but lacks {string.Join("; ", missing)}.");
    }

    static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');
}
