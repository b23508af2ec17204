using Edge.ModelPrep.Models;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Edge.ModelPrep.Explain;

/// <summary>What Grad-CAM found for one image: the prediction and a heatmap over the input, 0..1, row-major.</summary>
/// <param name="HasEvidence">False when nothing in the image speaks for the explained class (the map is all zero).</param>
/// <param name="Finite">False when the network produced NaN or infinity for this image: nothing here can be trusted.</param>
public sealed record GradCamResult(int Predicted, float[] Probabilities, int Explained, float[] Heatmap, int Width, int Height, bool HasEvidence, bool Finite);

/// <summary>
/// Grad-CAM (Selvaraju et al. 2017): the last feature map's channels weighted by the mean gradient of
/// a class score over each channel, summed, ReLU'd, resized to the input and scaled to 0..1. It shows
/// where in the image the evidence for that class lies.
/// </summary>
public static class GradCam
{
    /// <param name="input">One preprocessed image, [1, C, H, W], as the network is fed.</param>
    /// <param name="explain">The class to explain; null = the predicted one.</param>
    public static GradCamResult Explain(ClassifierNet net, Tensor input, int? explain = null)
    {
        if (input.dim() != 4 || input.shape[0] != 1) throw new ArgumentException("Grad-CAM takes one image, [1, C, H, W]", nameof(input));
        net.eval();
        using var scope = NewDisposeScope();
        // The map is made a leaf of its own: the class score's gradient is taken with respect to it alone,
        // whether or not the weights want gradients (nothing accumulates on them).
        Tensor map;
        using (no_grad()) map = net.FeatureMap(input);
        map = map.requires_grad_(true); // made under no_grad: already a leaf of its own
        var logits = net.Classify(map);
        var probabilities = functional.softmax(logits, 1).detach().data<float>().ToArray();
        var predicted = Array.IndexOf(probabilities, probabilities.Max());
        var target = explain ?? predicted;
        if ((uint)target >= (uint)probabilities.Length) throw new ArgumentOutOfRangeException(nameof(explain), $"class {target} of {probabilities.Length}");
        var grads = autograd.grad([logits[0, target]], [map])[0];
        var weights = grads.mean([2, 3], keepdim: true);
        var cam = functional.relu((weights * map).sum(1, keepdim: true));
        var (h, w) = ((int)input.shape[2], (int)input.shape[3]);
        cam = functional.interpolate(cam, [h, w], mode: InterpolationMode.Bilinear, align_corners: false).reshape(h * w);
        var max = cam.max().item<float>();
        var heat = (max > 0 ? cam / max : cam).detach().data<float>().ToArray();
        var finite = probabilities.All(float.IsFinite) && float.IsFinite(max);
        return new GradCamResult(predicted, probabilities, target, heat, w, h, max > 0, finite);
    }
}
