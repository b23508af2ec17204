using TorchSharp.Modules;
using static TorchSharp.torch;
using DataType = Edge.Onnx.Protos.TensorProto.Types.DataType;

namespace Edge.ModelPrep.Export;

/// <summary>
/// The largest difference between ONNX Runtime and TorchSharp logits: absolute on real images; on
/// random inputs (far outside the training distribution, logits can reach tens) relative to the
/// largest logit when that exceeds 1, since float32 sums differ in the last bits by summation order.
/// </summary>
public sealed record ParityResult(double MaxAbsDiff, double MaxScaledDiffRandom, int Images, int RandomInputs, int Top1Disagreements)
{
    public const double Tolerance = 1e-4;
    public bool Passed => MaxAbsDiff <= Tolerance && MaxScaledDiffRandom <= Tolerance;
}
