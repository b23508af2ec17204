namespace Edge.ModelPrep.Qat;

/// <summary>A layer that can run as its INT8 export will (quantization-aware training).</summary>
public interface IFakeQuantized
{
    /// <summary>From now on, fake-quantize what the INT8 model will quantize: weights per channel, outputs per tensor.</summary>
    void EnableFakeQuant();
}

/// <summary>Switches a network to quantization-aware training.</summary>
public static class QuantizationAware
{
    /// <summary>Every layer that can runs fake-quantized; returns how many do.</summary>
    public static int Enable(TorchSharp.torch.nn.Module net)
    {
        var n = 0;
        foreach (var (_, m) in net.named_modules())
            if (m is IFakeQuantized q)
            {
                q.EnableFakeQuant();
                n++;
            }
        return n;
    }
}
