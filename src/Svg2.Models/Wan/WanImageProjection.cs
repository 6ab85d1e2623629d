using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// The image-to-video img_emb MLP: LayerNorm, linear, exact GELU, linear, LayerNorm, from CLIP width
/// (1280) to the model width. Checkpoint keys proj.0, proj.1, proj.3 and proj.4.
/// </summary>
public sealed class WanImageProjection : nn.Module
{
    readonly ImageProjectionLayers _proj;

    /// <summary>Creates the projection.</summary>
    public WanImageProjection(long imageDim, long dim, Device? device, ScalarType dtype) : base(nameof(WanImageProjection))
    {
        _proj = new ImageProjectionLayers(imageDim, dim, device, dtype);
        register_module("proj", _proj);
    }

    /// <summary>[B, 257, 1280] CLIP tokens to [B, 257, dim] float32.</summary>
    public Tensor Forward(Tensor clipFeatures) => _proj.Forward(clipFeatures);

    sealed class ImageProjectionLayers : nn.Module
    {
        readonly LayerNorm _inputNorm;
        readonly Linear _first;
        readonly Linear _second;
        readonly LayerNorm _outputNorm;

        public ImageProjectionLayers(long imageDim, long dim, Device? device, ScalarType dtype) : base("proj")
        {
            // PyTorch's LayerNorm default eps, which the reference keeps here.
            _inputNorm = nn.LayerNorm(imageDim, 1e-5, device: device, dtype: dtype);
            _first = nn.Linear(imageDim, imageDim, device: device, dtype: dtype);
            _second = nn.Linear(imageDim, dim, device: device, dtype: dtype);
            _outputNorm = nn.LayerNorm(dim, 1e-5, device: device, dtype: dtype);
            register_module("0", _inputNorm);
            register_module("1", _first);
            register_module("3", _second);
            register_module("4", _outputNorm);
        }

        public Tensor Forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = WanNorms.LayerNorm(x, _inputNorm.weight, _inputNorm.bias, 1e-5);
            h = nn.functional.gelu(_first.ApplyInWeightType(h));
            h = _second.ApplyInWeightType(h);
            return WanNorms.LayerNorm(h, _outputNorm.weight, _outputNorm.bias, 1e-5).MoveToOuterDisposeScope();
        }
    }
}
