
namespace Edge.ModelPrep.Data;

/// <summary>One batch: normalised images (NCHW) and labels, in arrays that the loader reuses.</summary>
public sealed class Batch(int capacity, int imageLength)
{
    public float[] Images { get; } = new float[capacity * imageLength];
    public long[] Labels { get; } = new long[capacity];
    /// <summary>Which image of the set each one is (a teacher's cached outputs are looked up by it).</summary>
    public int[] Indices { get; } = new int[capacity];
    public int Count { get; internal set; }

    /// <summary>
    /// The images as a tensor of their own; <paramref name="shape"/> is [_, C, H, W] and gets this batch's
    /// size. Copied into native memory: these arrays are reused, and a managed copy per step would pile up
    /// on the large-object heap between collections (hundreds of MB over an epoch).
    /// </summary>
    public TorchSharp.torch.Tensor ImagesTensor(long[] shape)
    {
        shape[0] = Count;
        var t = TorchSharp.torch.empty(shape);
        t.data<float>().CopyFrom(Images.AsSpan(0, Count * imageLength), 0, 0);
        return t;
    }
}
