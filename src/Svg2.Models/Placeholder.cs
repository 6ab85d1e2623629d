namespace Svg2.Models; internal static class Placeholder {}
