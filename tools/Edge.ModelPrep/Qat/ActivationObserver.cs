using Edge.Host.Quantization;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Qat;

/// <summary>
/// Follows one activation's range while training (a moving average of batch minima and maxima, as PyTorch's
/// MovingAverageMinMaxObserver) and fake-quantizes it to UINT8 with the parameters Edge's quantizer would give
/// that range (<see cref="QuantParams.ForActivation"/>).
/// </summary>
public sealed class ActivationObserver(double averaging = 0.01)
{
    private float _min = float.NaN, _max = float.NaN;

    public (float Min, float Max) Range => (_min, _max);

    public Tensor Apply(Tensor x, bool training)
    {
        if (training || float.IsNaN(_min))
        {
            float lo, hi;
            using (no_grad())
            {
                lo = x.min().item<float>();
                hi = x.max().item<float>();
            }
            if (float.IsFinite(lo) && float.IsFinite(hi))
            {
                if (float.IsNaN(_min)) (_min, _max) = (lo, hi);
                else (_min, _max) = ((float)(_min + averaging * (lo - _min)), (float)(_max + averaging * (hi - _max)));
            }
        }
        if (float.IsNaN(_min)) return x;
        var p = QuantParams.ForActivation(_min, _max, ActivationType.UInt8);
        return FakeQuant.PerTensor(x, p.Scale, p.ZeroPoint, 0, 255);
    }
}
