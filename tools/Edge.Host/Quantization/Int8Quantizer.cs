using Edge.Core.Diagnostics;
using Edge.Core.Inference;
using Edge.Host.Datasets;
using Edge.Host.Quantization;
using Edge.Onnx.Model;
using Edge.Onnx.Protos;
using Google.Protobuf;

namespace Edge.Host.Quantization;

/// <summary>
/// Post-training INT8 quantization of an FP32 ONNX classifier: prepare the graph, calibrate on
/// images preprocessed exactly as the daemon will, write the QDQ model, then verify it (fusion
/// into integer kernels, per-layer error, agreement and accuracy, speed).
/// </summary>
public static class Int8Quantizer
{
    public static QuantizationReport Quantize(QuantizeRequest request, IProgress<StepProgress>? progress = null)
    {
        var threads = request.Threads > 0 ? request.Threads : Math.Min(Environment.ProcessorCount, ClassifierOptions.MaxThreads);
        // The tool checks its flags first; reaching these is a caller's bug, not a user's input.
        ArgumentOutOfRangeException.ThrowIfLessThan(request.Samples, 1, nameof(request.Samples));
        WeightQuantizer.MaxFor(request.WeightBits); // 7 or 8, before calibration rather than at the write
        if (request.AutoExclude && request.Evaluation is null)
            throw new ArgumentException("automatic exclusion needs an evaluation set to measure the loss on", nameof(request));
        if (request.Calibration.Count == 0) throw new QuantizationException($"the calibration set '{request.Calibration.Name}' is empty");
        ModelProto original;
        try { original = OnnxModelFile.Load(request.InputPath); }
        catch (OnnxFormatException e) { throw new QuantizationException(e.Message, e); }
        ModelDescriptor model;
        try { model = ModelDescriber.Describe(original, request.InputPath); }
        catch (ModelLoadException e) { throw new QuantizationException($"not an image classifier Edge can run: {e.Message}", e); }

        progress?.Report(new StepProgress("preparing graph", 0, 1));
        var prepared = GraphPreparer.Prepare(original, out var preparation);
        var plan = new QdqPlan(prepared, request.Exclude);
        var tensors = plan.CalibratedTensors.ToList();
        var indices = request.Calibration.Sample(request.Samples);
        var stats = CalibrationRunner.Run(prepared, model, tensors, request.Calibration, indices, request.Method, threads, progress,
            out var used, out var skipped, out var reasons);
        // The input's range is bounded by preprocessing (pixels 0..255): it has no outliers to cut.
        var ranges = stats.ToDictionary(kv => kv.Key,
            kv => kv.Value.Range(kv.Key == model.InputName ? CalibrationMethod.MinMax : request.Method, request.Percentile));

        var exclude = new HashSet<string>(request.Exclude);
        var autoExcluded = new List<string>();
        var result = Write(prepared, ranges, request, exclude);
        var errorIndices = indices.Take(Math.Min(request.ErrorSamples, indices.Length)).ToArray();
        Agreement? evaluation = null;
        int[]? evalIndices = null;
        if (request.Evaluation is { } evalSet)
        {
            evalIndices = request.EvaluationSamples > 0 ? evalSet.Sample(request.EvaluationSamples) : [.. Enumerable.Range(0, evalSet.Count)];
            evaluation = QuantizationVerifier.Compare(request.InputPath, request.OutputPath, evalSet, evalIndices, threads, progress);
        }
        List<LayerError> errors() => QuantizationVerifier.LayerErrors(prepared, result.Model, model,
            [.. result.Activations.Select(a => (a.Tensor, a.Producer, a.OpType))], request.Calibration, errorIndices, threads);
        var layerErrors = errors();

        if (request.AutoExclude)
        {
            for (var round = 0; round < request.MaxAutoExclusions && Loss(evaluation) > request.MaxLoss; round++)
            {
                // The quantized compute layer whose output is worst, by SQNR.
                var computeNodes = result.Weights.Select(w => w.Node).ToHashSet();
                var worst = layerErrors.Where(e => computeNodes.Contains(e.Producer) && !exclude.Contains(e.Producer))
                    .OrderBy(e => e.SqnrDb).FirstOrDefault();
                if (worst is null) break;
                exclude.Add(worst.Producer);
                autoExcluded.Add($"{worst.Producer} ({worst.OpType}, {worst.SqnrDb:0.0} dB)");
                progress?.Report(new StepProgress($"keeping {worst.Producer} in FP32", round + 1, request.MaxAutoExclusions));
                result = Write(prepared, ranges, request, exclude);
                if (request.Evaluation is { } set) evaluation = QuantizationVerifier.Compare(request.InputPath, request.OutputPath, set, evalIndices!, threads, progress);
                layerErrors = errors();
            }
        }

        progress?.Report(new StepProgress("checking fusion", 0, 1));
        var int8Bytes = Onnx.Model.OnnxModelFile.ReadBytes(request.OutputPath);
        var fusion = QuantizationVerifier.CheckFusion(int8Bytes, request.OptimizedModelPath);
        double? fp32Ms = null, int8Ms = null;
        if (request.MeasureLatency)
        {
            progress?.Report(new StepProgress("measuring latency", 0, 1));
            (fp32Ms, int8Ms) = QuantizationVerifier.Latency(Onnx.Model.OnnxModelFile.Load(request.InputPath).ToByteArray(), int8Bytes, model);
        }
        return new QuantizationReport
        {
            Input = request.InputPath,
            Output = request.OutputPath,
            InputBytes = new FileInfo(request.InputPath).Length,
            OutputBytes = int8Bytes.Length,
            Preparation = preparation,
            Method = request.Method == CalibrationMethod.Percentile ? $"percentile {request.Percentile}" : request.Method.ToString().ToLowerInvariant(),
            ActivationType = request.Activations == ActivationType.Int8 ? "int8" : "uint8",
            WeightBits = request.WeightBits,
            CalibrationImages = used,
            CalibrationSkipped = skipped,
            SkipReasons = reasons,
            Activations = result.Activations,
            Weights = result.Weights,
            FusedActivations = result.FusedActivations,
            KeptFloat = result.FloatComputeNodes,
            AutoExcluded = autoExcluded,
            Fusion = fusion,
            LayerErrors = [.. layerErrors.OrderBy(e => e.SqnrDb)],
            Evaluation = evaluation,
            Fp32LatencyMs = fp32Ms,
            Int8LatencyMs = int8Ms,
            PeakRssMib = Core.Diagnostics.ProcessMemory.PeakMib(),
        };
    }

    private static QdqResult Write(ModelProto prepared, Dictionary<string, (float Min, float Max)> ranges, QuantizeRequest request, HashSet<string> exclude)
    {
        var result = QdqQuantizer.Quantize(prepared, ranges, new QdqOptions { Activations = request.Activations, Exclude = exclude, WeightBits = request.WeightBits });
        OnnxModelFile.Save(result.Model, request.OutputPath);
        return result;
    }

    private static double Loss(Agreement? evaluation)
    {
        if (evaluation is null) return 0;
        return evaluation.Fp32Accuracy is { } a && evaluation.Int8Accuracy is { } b ? a - b : 100 - evaluation.Top1Agreement;
    }
}
