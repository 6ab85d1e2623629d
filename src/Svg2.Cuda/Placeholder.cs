namespace Svg2.Cuda; internal static class Placeholder {}
