
namespace Edge.Host.Quantization;

/// <summary>Top-1 of both models on a held-out set.</summary>
public sealed record Agreement(int Images, int Skipped, double Top1Agreement, double? Fp32Accuracy, double? Int8Accuracy);
