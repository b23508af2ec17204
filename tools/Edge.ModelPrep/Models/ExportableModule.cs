using Edge.ModelPrep.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Models;

/// <summary>A layer that can write its own ONNX nodes (the exporter cannot trace C# code).</summary>
public abstract class ExportableModule(string name) : Module<Tensor, Tensor>(name)
{
    /// <summary>Emits this layer's nodes reading <paramref name="x"/> and returns its output name; <paramref name="path"/> names the nodes.</summary>
    public abstract string Export(OnnxEmitter e, string path, string x);
}
