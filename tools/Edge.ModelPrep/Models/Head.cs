using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>The shared MobileNetV2 head: features → global average pool → dropout → linear.</summary>
internal static class Head
{
    public static Tensor FeatureMap(ModuleList<ExportableModule> features, Tensor x)
    {
        var y = x;
        foreach (var f in features) y = f.call(y);
        return y;
    }

    public static Tensor Classify(Dropout dropout, Linear classifier, Tensor featureMap) =>
        classifier.call(dropout.call(functional.adaptive_avg_pool2d(featureMap, 1).flatten(1)));

    public static string Export(OnnxEmitter e, ModuleList<ExportableModule> features, Linear classifier, string x)
    {
        var y = x;
        for (var i = 0; i < features.Count; i++) y = features[i].Export(e, $"features.{i}", y);
        y = e.Flatten("flatten", e.GlobalAveragePool("pool", y));
        return e.Linear("classifier", classifier, y);
    }
}
