// Calls the packed SVG2 operator at full density and checks it against dense attention.
using Svg2.Attention;
using Svg2.Configuration;
using static TorchSharp.torch;

manual_seed(7);
using var q = randn(1, 2, 256, 32);
using var k = randn(1, 2, 256, 32);
using var v = randn(1, 2, 256, 32);

// Top-p 1 and a minimum kept ratio of 1 keep every key cluster: the sparse call must equal dense attention.
var options = new Svg2Options { QueryClusters = 8, KeyClusters = 8, TopP = 1.0, MinKeyClusterRatio = 1.0, Seed = 1 };
var attention = new Svg2Attention(options); // reference backend
using var state = new Svg2LayerState();

double worst = 0;
for (int step = 0; step < 2; step++) // the second call warm-starts k-means from the layer state
{
    using var result = attention.Forward(q, k, v, state);
    using var dense = nn.functional.scaled_dot_product_attention(q, k, v);
    using var diff = result.Output - dense;
    double error = diff.norm().item<float>() / dense.norm().item<float>();
    double density = result.DensityPerHead().Min();
    Console.WriteLine($"step {step}: backend {attention.Backend.Name}, clusters {result.QueryClusters}x{result.KeyClusters}, " +
                      $"min density {density:F4}, relative error {error:E2}");
    if (density < 1.0) { Console.Error.WriteLine("FAIL: a key cluster was dropped at full density"); return 1; }
    worst = Math.Max(worst, error);
}
const double Bound = 1e-4;
if (!(worst <= Bound)) { Console.Error.WriteLine($"FAIL: relative error {worst:E2} exceeds {Bound:E0}"); return 1; }
Console.WriteLine($"package consumer: OK (relative error {worst:E2} <= {Bound:E0})");
return 0;
