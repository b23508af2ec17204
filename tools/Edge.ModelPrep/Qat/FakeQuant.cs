using static TorchSharp.torch;

namespace Edge.ModelPrep.Qat;

/// <summary>
/// Fake quantization with a straight-through estimator, written out (TorchSharp's own fake_quantize functions
/// are unusable): forward rounds to the integer grid and back, exactly as PyTorch's
/// <c>fake_quantize_per_{tensor,channel}_affine</c> do; backward passes the gradient unchanged where the value
/// fell inside the integer range and blocks it where it was clamped.
/// </summary>
public static class FakeQuant
{
    /// <summary>Per-tensor affine: (clamp(round(x / s) + z, qmin, qmax) - z) · s.</summary>
    public static Tensor PerTensor(Tensor x, double scale, long zeroPoint, long qmin, long qmax)
    {
        using var scope = NewDisposeScope();
        var inverse = (float)(1.0 / (float)scale); // PyTorch multiplies by the float reciprocal of the float scale
        Tensor y, inside;
        using (no_grad())
        {
            var q = (x * inverse).round() + zeroPoint; // round half to even, as nearbyint
            inside = q.ge(qmin).logical_and(q.le(qmax)).to_type(x.dtype);
            y = (q.clamp(qmin, qmax) - zeroPoint) * (float)scale;
        }
        return StraightThrough(x, y, inside).MoveToOuterDisposeScope();
    }

    /// <summary>Per-channel symmetric along dimension 0 (weights): zero point 0, one scale per output channel.</summary>
    public static Tensor PerChannel(Tensor w, Tensor scales, long qmin, long qmax)
    {
        using var scope = NewDisposeScope();
        var shape = new long[w.dim()];
        Array.Fill(shape, 1L);
        shape[0] = -1;
        Tensor y, inside;
        using (no_grad())
        {
            var s = scales.to_type(ScalarType.Float32).reshape(shape);
            var q = (w * s.reciprocal()).round();
            inside = q.ge(qmin).logical_and(q.le(qmax)).to_type(w.dtype);
            y = q.clamp(qmin, qmax) * s;
        }
        return StraightThrough(w, y, inside).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Symmetric INT8 weights as Edge's quantizer writes them by default: per output channel, scale = max|w| / 63,
    /// codes in [-63, 63] (7 bits, exact on every CPU; a channel of zeros gets scale 1).
    /// </summary>
    public static Tensor Weights(Tensor w)
    {
        using var scope = NewDisposeScope();
        Tensor scales;
        using (no_grad())
        {
            var max = w.detach().abs().reshape(w.shape[0], -1).amax([1]);
            scales = where(max.gt(0), max / Max, ones_like(max));
        }
        return PerChannel(w, scales, -Max, Max).MoveToOuterDisposeScope();
    }

    private static readonly int Max = Edge.Host.Quantization.WeightQuantizer.MaxFor(Edge.Host.Quantization.WeightQuantizer.DefaultBits);

    // Forward: exactly y (y + 0, where the zero is x·m - x·m); backward: the gradient times the mask m.
    private static Tensor StraightThrough(Tensor x, Tensor y, Tensor inside)
    {
        var pass = x * inside;
        return y + (pass - pass.detach());
    }
}
