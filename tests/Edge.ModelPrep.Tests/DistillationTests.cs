using Edge.Host.Datasets;
using Edge.ModelPrep.Data;
using Edge.ModelPrep.Training;
using Edge.Onnx.Metadata;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Tests;

/// <summary>Hinton's loss by hand, and a teacher that sees images its own way.</summary>
public class DistillationTests
{
    [Test]
    public void TheLossIsWhatTheFormulaGivesByHand()
    {
        // Student [1,2,3], teacher [3,2,1], label 0, T = 2, α = 0.5.
        // At T = 2 the two softmaxes are mirror images, and ln(pt/ps) is +1 on class 0, 0 on class 1, -1 on
        // class 2, so KL(pt || ps) = pt0 - pt2 = (e^1.5 - e^0.5) / (e^0.5 + e^1 + e^1.5).
        // CE = -ln softmax([1,2,3])[0] = ln(1 + e + e^2). Loss = α·T²·KL + (1-α)·CE.
        var e = Math.E;
        var kl = (Math.Exp(1.5) - Math.Exp(0.5)) / (Math.Exp(0.5) + e + Math.Exp(1.5));
        var ce = Math.Log(1 + e + e * e);
        var expected = 0.5 * 4 * kl + 0.5 * ce;
        Assert.That(expected, Is.EqualTo(1.8441163).Within(1e-6), "the hand computation itself");

        using var scope = NewDisposeScope();
        // Two identical rows: the loss is a mean over the batch, so it stays the same.
        var student = tensor(new float[] { 1, 2, 3, 1, 2, 3 }, [2, 3]);
        var teacher = tensor(new float[] { 3, 2, 1, 3, 2, 1 }, [2, 3]);
        var labels = tensor(new long[] { 0, 0 });
        var loss = Distillation.Loss(student, teacher, labels, temperature: 2, alpha: 0.5).item<float>();
        Assert.That(loss, Is.EqualTo(expected).Within(1e-5));

        // Only the teacher (α = 1): the KL term alone, T² times; a student that agrees with the teacher pays nothing.
        Assert.That(Distillation.Loss(student, teacher, labels, 2, 1).item<float>(), Is.EqualTo(4 * kl).Within(1e-5));
        Assert.That(Distillation.Loss(teacher, teacher, labels, 2, 1).item<float>(), Is.EqualTo(0).Within(1e-6));
    }

    [Test]
    public void WithTemperatureOneAndAlphaZeroItIsPlainCrossEntropy()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var student = randn(16, 10) * 3;
        var teacher = randn(16, 10) * 3;
        var labels = randint(0, 10, [16]);
        var expected = nn.functional.cross_entropy(student, labels).item<float>();
        // Independent of the teacher: a different teacher gives the same value.
        Assert.That(Distillation.Loss(student, teacher, labels, 1, 0).item<float>(), Is.EqualTo(expected).Within(1e-6));
        Assert.That(Distillation.Loss(student, -teacher, labels, 1, 0).item<float>(), Is.EqualTo(expected).Within(1e-6));
        // The gradient too: distilling with α = 0 trains exactly as plain training does.
        var a = student.clone().requires_grad_(true);
        var b = student.clone().requires_grad_(true);
        Distillation.Loss(a, teacher, labels, 1, 0).backward();
        nn.functional.cross_entropy(b, labels).backward();
        Assert.That((a.grad! - b.grad!).abs().max().item<float>(), Is.LessThan(1e-7));
    }

    /// <summary>
    /// The teacher is an ONNX model that wants BGR, 8x8, (x/255 - 0.5)/0.25 and names its classes in another
    /// order than the data; the student takes RGB, 16x16, its own mean and std. Its logit for "red" is the
    /// mean of its input's channel 2, which is red only when the teacher's own preprocessing was applied.
    /// </summary>
    [TestCase(false, TestName = "AnOnnxTeacherGetsItsOwnPreprocessing(cached per image)")]
    [TestCase(true, TestName = "AnOnnxTeacherGetsItsOwnPreprocessing(per batch, from the student's tensors)")]
    public void AnOnnxTeacherGetsItsOwnPreprocessing(bool perBatch)
    {
        using var dir = new TempDir();
        var colours = new (string Class, byte R, byte G, byte B)[]
        {
            ("blue", 10, 40, 230), ("blue", 60, 20, 180), ("green", 30, 210, 50), ("green", 90, 160, 70), ("red", 240, 30, 20), ("red", 170, 80, 60),
        };
        for (var i = 0; i < colours.Length; i++)
        {
            var (cls, r, g, b) = colours[i];
            Directory.CreateDirectory(dir.File(Path.Combine("data", cls)));
            File.WriteAllBytes(dir.File(Path.Combine("data", cls, $"{i}.png")), TestImages.Png(TestImages.Solid(20, 12, r, g, b), 20, 12));
        }
        var teacherLabels = new[] { "red", "green", "blue" };
        // Teacher input is BGR: "red" reads channel 2, "green" channel 1, "blue" channel 0.
        var weights = new float[3, 3] { { 0, 0, 1 }, { 0, 1, 0 }, { 1, 0, 0 } };
        var settings = new ModelSettings
        {
            Labels = teacherLabels, Width = 8, Height = 8, Color = ColorOrder.Bgr, Resize = ResizeMode.Squash, Scale = 1f / 255,
            Mean = [0.5f, 0.5f, 0.5f], Std = [0.25f, 0.25f, 0.25f], Output = OutputKind.Logits,
        };
        var teacherPath = TestModels.Save(TestModels.Linear(3, 8, 8, weights, new float[3], settings: settings), dir.File("teacher.onnx"));

        var source = new FolderImageSet(dir.File("data"));
        Assert.That(source.Classes, Is.EqualTo(new[] { "blue", "green", "red" }));
        float[] mean = [0.2f, 0.3f, 0.4f], std = [0.5f, 0.6f, 0.7f];
        var student = TensorImageSet.Preprocessing(16, ColorOrder.Rgb, ResizeMode.Squash, mean, std);
        var data = TensorImageSet.Build(source, student);
        using var teacher = Teacher.Open(teacherPath, data.Classes, data.Size, dir.File("run"), threads: 1);
        if (!perBatch) teacher.Cache(source, data);
        var loader = new BatchLoader(data, [.. Enumerable.Range(0, data.Count)], 4, AugmentationOptions.None, mean, std, seed: 1, shuffle: true);
        var seen = 0;
        foreach (var batch in loader.Epoch(0))
        {
            using var scope = NewDisposeScope();
            var logits = teacher.Logits(batch, student, mean, std).data<float>().ToArray();
            for (var k = 0; k < batch.Count; k++)
            {
                var (cls, r, g, b) = Source(batch.Indices[k]);
                Assert.That(data.Classes[(int)batch.Labels[k]], Is.EqualTo(cls));
                // Data class order: blue, green, red; each the mean of its own channel, normalised the teacher's way.
                var expected = new[] { (b / 255f - 0.5f) / 0.25f, (g / 255f - 0.5f) / 0.25f, (r / 255f - 0.5f) / 0.25f };
                Assert.That(logits.Skip(3 * k).Take(3).ToArray(), Is.EqualTo(expected).Within(1e-4), $"{cls} image {batch.Indices[k]}");
                Assert.That(data.Classes[Array.IndexOf(logits, logits.Skip(3 * k).Take(3).Max(), 3 * k) - 3 * k], Is.EqualTo(cls));
                seen++;
            }
        }
        Assert.That(seen, Is.EqualTo(colours.Length));

        (string, byte, byte, byte) Source(int index)
        {
            var path = source.Describe(data.SourceIndex(index));
            return colours[int.Parse(Path.GetFileNameWithoutExtension(path), System.Globalization.CultureInfo.InvariantCulture)];
        }
    }
}
