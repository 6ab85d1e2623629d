using TorchSharp;
var a = torch.randn(1, 2, 8, 4);
Console.WriteLine(torch.nn.functional.scaled_dot_product_attention(a, a, a).shape.Length);
