namespace Svg2.Models.Checkpoints.Pth;

/// <summary>
/// A tensor as torch._utils._rebuild_tensor_v2 describes it: a view of <see cref="Storage"/> starting at
/// element <see cref="Offset"/> with the given shape and strides (in elements; zero for expanded dimensions).
/// </summary>
internal sealed record PthTensor(PthStorage Storage, long Offset, long[] Shape, long[] Stride)
{
    /// <summary>The number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (product, size) => checked(product * size));

    /// <summary>
    /// The storage elements the view touches, [<see cref="Offset"/>, <see cref="Offset"/> + Span): the
    /// largest index the strides reach plus one, or zero for a tensor without elements.
    /// </summary>
    public long Span
    {
        get
        {
            if (ElementCount == 0) return 0;
            long last = 0;
            for (int i = 0; i < Shape.Length; i++) last = checked(last + (Shape[i] - 1) * Stride[i]);
            return checked(last + 1);
        }
    }

    /// <summary>True when the view is the row-major layout of its elements, so the bytes need no reordering.</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int i = Shape.Length - 1; i >= 0; i--)
            {
                if (Shape[i] != 1 && Stride[i] != expected) return false;
                expected *= Shape[i];
            }
            return true;
        }
    }
}
