using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Edge.Cli;
using Edge.Core.Diagnostics;
using Edge.Host.Datasets;
using Edge.ModelPrep.Commands;
using Edge.ModelPrep.Data;
using Edge.ModelPrep.Models;
using Edge.Onnx.IO;
using Edge.Onnx.Metadata;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Edge.ModelPrep.Training;

/// <summary>
/// Trains a classifier: seeded data order and augmentation, SGD (momentum, Nesterov) or AdamW, warm-up
/// then cosine learning rate per step, label smoothing, class weights or focal loss, gradient clipping,
/// validation and early stopping, a checkpoint every epoch (resumable), metrics.csv and TensorBoard events.
/// </summary>
/// <param name="preloaded">The training set when the caller has already opened <c>options.Data</c> (not read twice).</param>
public sealed class Trainer(TrainOptions options, RunFolder run, ITrainingProgress progress, ImageSet? preloaded = null)
{
    /// <summary>The memory plan made before the first step (null when resuming).</summary>
    public MemoryPlan? Memory { get; private set; }

    /// <summary>
    /// Measures what a step costs, and picks the batch: the one asked for if it fits, else (a batch chosen
    /// for the data) the largest power of two that does; a batch that was asked for and does not fit is
    /// refused before the first step. Large steps send their big buffers back to the kernel.
    /// </summary>
    private int PlanMemory(ClassifierNet net, Device device)
    {
        var probe = MemoryEstimate.Probe(net, device);
        var limit = options.MaxMemoryMib > 0 ? options.MaxMemoryMib : 0.9 * MemoryEstimate.AvailableMib();
        var batch = options.BatchSize;
        double Estimate(int b) => MemoryEstimate.EstimateMib(probe, b, net, options.Optimizer);
        while (Estimate(batch) > limit && options.AutoBatch && batch > 4) batch /= 2;
        var estimate = Estimate(batch);
        if (estimate > limit)
        {
            var fits = batch;
            while (fits > 1 && Estimate(fits) > limit) fits /= 2;
            throw new CliError(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"batch {batch} of {net.Spec.Describe()} needs about {estimate / 1024:0.0} GiB, more than {(options.MaxMemoryMib > 0 ? $"--max-memory {options.MaxMemoryMib} MiB" : $"the {limit / 1024:0.0} GiB there is")}{(Estimate(fits) <= limit ? $"; --batch-size {fits} fits ({Estimate(fits) / 1024:0.0} GiB)" : "; use a smaller --input-size or --width")}{(options.MaxMemoryMib > 0 ? "" : " (or set --max-memory)")}"));
        }
        if (MemoryEstimate.IsSmallStep(probe, batch)) Interop.NativeMemory.SmallSteps(); // small steps: reuse is faster than returning memory
        else Interop.NativeMemory.LargeSteps();
        Memory = new MemoryPlan(batch, estimate, limit);
        progress.Message(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"memory: about {estimate / 1024:0.00} GiB at batch {batch} ({probe.PerImageMib:0.#} MiB per image) of {limit / 1024:0.0} GiB available{(batch != options.BatchSize ? $"; batch {options.BatchSize} would not fit" : "")}"));
        return batch;
    }

    public TrainResult Run(bool resume, CancellationToken cancel = default)
    {
        options.Validate();
        var device = ResolveDevice(options.Device);
        if (options.Threads > 0) set_num_threads(options.Threads);
        Directory.CreateDirectory(run.Root);

        CheckpointState? resumed = null;
        if (resume)
        {
            if (!File.Exists(Path.Combine(run.Last, Checkpoint.StateFile)))
                throw new CheckpointException($"--resume: '{run.Root}' has no checkpoint to resume (checkpoints/last)");
            resumed = Checkpoint.ReadState(run.Last);
            if (resumed.Arch with { Dropout = options.Arch.Dropout } != options.Arch)
                throw new CheckpointException($"--resume: the checkpoint in '{run.Root}' holds a {resumed.Arch.Describe()}, not the requested {options.Arch.Describe()}");
        }

        // Data: decoded and resized once by the daemon's own code.
        var color = PreprocessingNames.TryParseColor(options.Color, out var c) ? c : throw new CliError($"--color '{options.Color}': expected rgb, bgr or gray", ExitCodes.Usage);
        var resize = PreprocessingNames.TryParseResize(options.Resize, out var r) ? r : throw new CliError($"--resize '{options.Resize}': expected squash, center-crop or letterbox", ExitCodes.Usage);
        if (color.Channels() != options.Arch.Channels) throw new CliError($"--color {options.Color} gives {color.Channels()} channel(s) but the network takes {options.Arch.Channels}");
        var geometry = TensorImageSet.Preprocessing(options.Arch.InputSize, color, resize, new float[color.Channels()], [.. Enumerable.Repeat(1f, color.Channels())]);
        progress.Message($"loading {options.Data}");
        var source = preloaded ?? ImageSets.Open(options.Data, "train");
        var subset = options.MaxImages > 0 && options.MaxImages < source.Count ? source.Sample(options.MaxImages, options.Seed) : null;
        var data = TensorImageSet.Build(source, geometry, progress: progress, subset: subset);
        if (data.Classes.Count != options.Arch.Classes)
            throw new CliError($"the data has {data.Classes.Count} classes but the network was asked for {options.Arch.Classes}");
        foreach (var s in data.Skipped.Take(5)) progress.Message($"skipped {s.Image}: {s.Reason}");
        if (data.Skipped.Count > 5) progress.Message($"... and {data.Skipped.Count - 5} more unreadable images skipped");
        var (trainIdx, valIdx) = data.Split(options.ValFraction, options.Seed);
        var (mean, std) = resumed is not null ? (resumed.Mean, resumed.Std)
            : options.Mean is not null && options.Std is not null ? (options.Mean, options.Std) : data.ChannelStatistics();
        if (mean.Length != data.Channels || std.Length != data.Channels) throw new CliError($"--mean/--std need {data.Channels} value(s)");

        var counts = new int[data.Classes.Count];
        foreach (var i in trainIdx) counts[data.Label(i)]++;
        var empty = Enumerable.Range(0, counts.Length).Where(k => counts[k] == 0).Select(k => data.Classes[k]).ToList();
        if (empty.Count > 0) throw new DatasetException($"class(es) {string.Join(", ", empty)} have no training images");
        progress.Message($"{data.Count} images ({trainIdx.Length} train, {valIdx.Length} validation), {data.Classes.Count} classes, mean {Fmt(mean)} std {Fmt(std)}");
        progress.Message($"augmentation: {(options.Augmentation.IsNone ? "none" : string.Join(", ", options.Augmentation.Describe()))}");

        manual_seed(options.Seed);
        using var net = Architectures.Create(options.Arch);
        if (options.Pretrained is { } pretrained && resumed is null)
        {
            var weights = PretrainedBackbone.Read(PretrainedBackbone.Resolve(pretrained));
            PretrainedBackbone.Load(net, weights);
            progress.Message($"pretrained start: {weights.Spec(options.Arch.InputSize, options.Arch.Classes).Describe()} from {weights.Source}");
        }
        if (options.Init is { } init && resumed is null)
        {
            var folder = Checkpoint.Resolve(init);
            Checkpoint.LoadWeights(folder, net, Checkpoint.ReadState(folder));
            progress.Message($"starting from {folder}");
        }
        if (options.Qat) progress.Message($"quantization-aware: {Qat.QuantizationAware.Enable(net)} layers fake-quantized as the INT8 model will run them");
        net.to(device);
        // The teacher comes first: its memory is part of what the plan below measures.
        using var teacher = options.Teacher is { } teacherSpec
            ? Teacher.Open(teacherSpec, data.Classes, data.Size, run.Root, options.Threads > 0 ? options.Threads : Math.Min(Environment.ProcessorCount, Core.Inference.ClassifierOptions.MaxThreads))
            : null;
        var studentSpec = TensorImageSet.Preprocessing(options.Arch.InputSize, color, resize, mean, std);
        if (teacher is not null)
        {
            progress.Message($"teacher: {teacher.Description}; temperature {options.Temperature}, alpha {options.Alpha}");
            // Without augmentation the student sees each image as it is: the teacher's answers are worked out once.
            if (options.Augmentation.IsNone) teacher.Cache(source, data, progress);
            else teacher.Warm();
        }
        var batchSize = resumed is null ? PlanMemory(net, device) : options.BatchSize;
        if (batchSize != options.BatchSize) options = options with { BatchSize = batchSize };
        var train = new BatchLoader(data, trainIdx, batchSize, options.Augmentation, mean, std, options.Seed, shuffle: true,
            options.Balance == Balancing.Sampler ? Balancing.Sampler : Balancing.None, options.Workers);
        var val = valIdx.Length > 0
            ? new BatchLoader(data, valIdx, batchSize, AugmentationOptions.None, mean, std, options.Seed, shuffle: false, workers: options.Workers)
            : null;
        var parameters = net.parameters().ToList();
        // A pretrained backbone learns slower than the new classifier; the classifier trains alone first.
        var head = options.Pretrained is not null && net is ResNet withHead ? withHead.HeadParameters.ToList() : [];
        var headSet = new HashSet<Parameter>(head, ReferenceEqualityComparer.Instance);
        var backbone = parameters.Where(p => !headSet.Contains(p)).ToList();
        var groups = head.Count > 0 ? new[] { (Params: head, Factor: 1.0), (Params: backbone, Factor: options.BackboneLrFactor) } : [(parameters, 1.0)];
        optim.Optimizer optimizer = options.Optimizer == "adamw"
            ? optim.AdamW(groups.Select(g => new AdamW.ParamGroup(g.Params, options.LearningRate * g.Factor, 0.9, 0.999, 1e-8, options.WeightDecay, false, false)))
            : optim.SGD(groups.Select(g => new SGD.ParamGroup(g.Params, options.LearningRate * g.Factor, options.Momentum, 0, options.WeightDecay, options.Momentum > 0, false)),
                options.LearningRate, options.Momentum, 0, options.WeightDecay, options.Momentum > 0);
        var factors = groups.Select(g => g.Factor).ToArray();
        Tensor? classWeights = null;
        if (options.Balance == Balancing.Weights)
            classWeights = tensor(counts.Select(n => (float)trainIdx.Length / (counts.Length * n)).ToArray()).to(device);

        var startEpoch = 0;
        var step = 0;
        double best = double.NegativeInfinity;
        var bestEpoch = 0;
        var stale = 0;
        if (resumed is not null)
        {
            Checkpoint.LoadWeights(run.Last, net, resumed);
            Checkpoint.LoadOptimizer(run.Last, optimizer);
            (startEpoch, step, best, bestEpoch, stale) = (resumed.Epoch, resumed.Step, resumed.BestValAccuracy, resumed.BestEpoch, resumed.EpochsWithoutImprovement);
            progress.Message($"resuming after epoch {startEpoch} (step {step})");
        }
        else
        {
            AtomicFile.WriteText(run.Config, JsonSerializer.Serialize(options, TrainingJson.Default.TrainOptions));
            AtomicFile.WriteText(run.Labels, string.Join("\n", data.Classes) + "\n");
            File.WriteAllText(run.Metrics, "epoch,step,lr,train_loss,train_accuracy,val_loss,val_accuracy,images_per_second,data_wait_fraction,seconds\n");
            File.WriteAllText(run.Steps, "step,epoch,lr,loss,seconds\n");
        }

        var totalSteps = options.Epochs * train.BatchesPerEpoch;
        var warmup = (int)Math.Round(options.WarmupEpochs * train.BatchesPerEpoch);
        var headSteps = head.Count > 0 ? (int)Math.Round(options.HeadEpochs * train.BatchesPerEpoch) : 0;
        var batchNorms = net.named_modules().Select(m => m.module).OfType<BatchNorm2d>().ToList();
        // Train mode everywhere, then BatchNorm statistics fixed where they should not move: while only the
        // classifier trains, and with batches too small for their statistics to mean anything.
        bool backboneFrozen = false;
        void Modes(int atStep)
        {
            var frozen = atStep < headSteps;
            if (frozen != backboneFrozen || atStep == 0)
                foreach (var p in backbone) p.requires_grad = !frozen;
            backboneFrozen = frozen;
            net.train();
            if (frozen || options.FreezeBatchNorm) foreach (var b in batchNorms) b.eval();
        }
        double Lr(int s)
        {
            if (s < warmup) return options.LearningRate * (s + 1) / warmup;
            var t = totalSteps <= warmup ? 1 : (double)(s - warmup) / (totalSteps - warmup);
            var min = options.LearningRate * options.MinLrFraction;
            return min + (options.LearningRate - min) * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1, t)));
        }

        var writer = utils.tensorboard.SummaryWriter(run.TensorBoard, createRunName: false);
        var history = new List<EpochMetrics>();
        CheckpointState? last = resumed;
        var stoppedEarly = false;
        var state = (Func<int, double?, CheckpointState>)((epoch, valAcc) => new CheckpointState
        {
            Arch = options.Arch, Classes = data.Classes, Color = color.Name(), Resize = resize.Name(), Mean = mean, Std = std,
            Data = options.Data, Epoch = epoch, Step = step, ValAccuracy = valAcc,
            BestValAccuracy = best, BestEpoch = bestEpoch, EpochsWithoutImprovement = stale,
        });
        var imageShape = new long[] { 0, data.Channels, data.Size, data.Size };
        var stepLog = new StringBuilder();

        for (var epoch = startEpoch; epoch < options.Epochs && !cancel.IsCancellationRequested; epoch++)
        {
            if (options.MaxSteps > 0 && step >= options.MaxSteps) break;
            // Dropout and any other torch randomness repeat per epoch, so a resumed run continues identically.
            manual_seed(options.Seed * 1000L + epoch);
            Modes(step);
            progress.EpochStarted(epoch + 1, options.Epochs, train.BatchesPerEpoch);
            var sw = Stopwatch.StartNew();
            double lossSum = 0;
            long correct = 0, seen = 0;
            var ticksBefore = train.Ticks;
            var batchIndex = 0;
            foreach (var batch in train.Epoch(epoch, cancel))
            {
                if (options.MaxSteps > 0 && step >= options.MaxSteps) break;
                var lr = Lr(step);
                if ((step < headSteps) != backboneFrozen) Modes(step);
                var groupIndex = 0;
                foreach (var g in optimizer.ParamGroups) g.LearningRate = lr * factors[groupIndex++];
                double loss;
                long right;
                using (var scope = NewDisposeScope())
                {
                    var x = batch.ImagesTensor(imageShape).to(device);
                    var y = tensor(batch.Labels.AsSpan(0, batch.Count).ToArray()).to(device);
                    var logits = net.call(x);
                    var l = teacher is null ? LossFunction(logits, y, classWeights)
                        : Distillation.Loss(logits, teacher.Logits(batch, studentSpec, mean, std).to(device), y, options.Temperature, options.Alpha, options.LabelSmoothing);
                    optimizer.zero_grad();
                    l.backward();
                    if (options.ClipGradNorm > 0) nn.utils.clip_grad_norm_(parameters, options.ClipGradNorm);
                    optimizer.step();
                    loss = l.item<float>();
                    right = logits.argmax(1).eq(y).sum().item<long>();
                }
                if (!double.IsFinite(loss))
                    throw new TrainingDivergedException($"the loss became {loss} at step {step} (epoch {epoch + 1}): lower --lr or keep --clip-grad-norm on");
                stepLog.Append(CultureInfo.InvariantCulture, $"{step},{epoch + 1},{lr:g6},{loss:g9},{sw.Elapsed.TotalSeconds:0.####}\n");
                lossSum += loss * batch.Count;
                correct += right;
                seen += batch.Count;
                step++;
                batchIndex++;
                // Tensors that TorchSharp makes inside its own code and leaves to finalizers hold native memory the
                // GC does not see: collected every few steps, a run's memory stays flat (measured: +500 MB over
                // an epoch otherwise), for a few milliseconds.
                if (step % 8 == 0) { GC.Collect(); GC.WaitForPendingFinalizers(); }
                var rate = seen / Math.Max(1e-9, sw.Elapsed.TotalSeconds);
                var remainingImages = (double)(train.BatchesPerEpoch - batchIndex) * options.BatchSize + (options.Epochs - epoch - 1) * (double)train.Images;
                progress.Step(epoch + 1, batchIndex, train.BatchesPerEpoch, lossSum / seen, 100.0 * correct / seen, rate, TimeSpan.FromSeconds(remainingImages / Math.Max(rate, 1e-9)));
                writer.add_scalar("train/loss", (float)loss, step);
                writer.add_scalar("train/lr", (float)lr, step);
            }
            if (seen == 0) break;
            File.AppendAllText(run.Steps, stepLog.ToString());
            stepLog.Clear();
            var seconds = sw.Elapsed.TotalSeconds;
            var ticksAfter = train.Ticks;
            var waitFraction = ticksAfter.Total == ticksBefore.Total ? 0 : (double)(ticksAfter.Wait - ticksBefore.Wait) / (ticksAfter.Total - ticksBefore.Total);
            // After few steps the running statistics still hold much of where they started (momentum 0.1):
            // measured afresh on training batches, evaluation sees what the network now computes.
            Interop.NativeMemory.Trim();
            // Not under QAT: its layers never run BatchNorm (folded, statistics frozen), so statistics reset here would stay reset.
            if (step < 100 && !backboneFrozen && !options.FreezeBatchNorm && !options.Qat) RecalibrateBatchNorm(net, batchNorms, train, epoch, device);
            double? valLoss = null, valAcc = null;
            if (val is not null)
            {
                var ev = Evaluate(net, val, device);
                (valLoss, valAcc) = (ev.Loss, ev.Accuracy);
            }
            Interop.NativeMemory.Trim();
            var metric = valAcc ?? 100.0 * correct / seen;
            // A later epoch that ties the best is kept: it has trained longer at a lower learning rate.
            if (metric > best) stale = 0;
            else stale++;
            if (metric >= best) { best = metric; bestEpoch = epoch + 1; }
            var m = new EpochMetrics(epoch + 1, step, Lr(Math.Max(0, step - 1)), lossSum / seen, 100.0 * correct / seen, valLoss, valAcc, seen / seconds, waitFraction, seconds);
            history.Add(m);
            File.AppendAllText(run.Metrics, string.Create(CultureInfo.InvariantCulture,
                $"{m.Epoch},{m.Step},{m.LearningRate:g6},{m.TrainLoss:g6},{m.TrainAccuracy:0.###},{m.ValLoss?.ToString("g6", CultureInfo.InvariantCulture)},{m.ValAccuracy?.ToString("0.###", CultureInfo.InvariantCulture)},{m.ImagesPerSecond:0.#},{m.DataWaitFraction:0.####},{m.Seconds:0.#}\n"));
            writer.add_scalar("train/accuracy", (float)m.TrainAccuracy, step);
            writer.add_scalar("train/images_per_second", (float)m.ImagesPerSecond, step);
            if (valAcc is not null)
            {
                writer.add_scalar("val/loss", (float)valLoss!.Value, step);
                writer.add_scalar("val/accuracy", (float)valAcc.Value, step);
            }
            last = state(epoch + 1, valAcc);
            Checkpoint.Save(run.Last, net, optimizer, last);
            if (bestEpoch == epoch + 1) Checkpoint.Save(run.Best, net, null, last);
            progress.EpochEnded(m);
            if (options.Patience > 0 && stale >= options.Patience)
            {
                progress.Message($"early stop: validation accuracy has not improved for {stale} epochs (best {best:0.##}% at epoch {bestEpoch})");
                stoppedEarly = true;
                break;
            }
        }
        if (last is null)
            throw startEpoch >= options.Epochs
                ? new CliError($"'{run.Root}' already holds all {options.Epochs} epochs: nothing to resume (give more --epochs to train further)")
                : new CliError("stopped before the first epoch ended: nothing was saved", ExitCodes.Cancelled);
        var bestState = File.Exists(Path.Combine(run.Best, Checkpoint.StateFile)) ? Checkpoint.ReadState(run.Best) : last;
        return new TrainResult(last, bestState, history, stoppedEarly, train.WaitFraction, data.Skipped, trainIdx.Length, valIdx.Length);
    }

    /// <summary>Running BatchNorm statistics measured anew as the average over up to 20 training batches (no gradients, nothing else changes).</summary>
    internal static void RecalibrateBatchNorm(ClassifierNet net, IReadOnlyList<BatchNorm2d> batchNorms, BatchLoader loader, int epoch, Device device)
    {
        if (batchNorms.Count == 0) return;
        var momenta = batchNorms.Select(b => b.momentum).ToList();
        foreach (var b in batchNorms)
        {
            b.reset_running_stats();
            b.momentum = null; // a cumulative average over the batches that follow
        }
        var shape = new long[] { 0, net.Spec.Channels, net.Spec.InputSize, net.Spec.InputSize };
        using (no_grad())
        {
            var n = 0;
            foreach (var batch in loader.Epoch(1_000_000 + epoch))
            {
                using var scope = NewDisposeScope();
                net.call(batch.ImagesTensor(shape).to(device));
                if (++n == 20) break;
            }
        }
        for (var i = 0; i < batchNorms.Count; i++) batchNorms[i].momentum = momenta[i];
    }

    private Tensor LossFunction(Tensor logits, Tensor target, Tensor? classWeights)
    {
        if (options.Loss == "focal")
        {
            // Focal loss (Lin et al. 2017): −(1 − p_t)^γ · log p_t, optionally weighted per class.
            var logp = nn.functional.log_softmax(logits, 1);
            var logpt = logp.gather(1, target.unsqueeze(1)).squeeze(1);
            var loss = -(1 - logpt.exp()).pow(options.FocalGamma) * logpt;
            if (classWeights is not null) loss = loss * classWeights.index_select(0, target);
            return loss.mean();
        }
        return nn.functional.cross_entropy(logits, target, classWeights, label_smoothing: options.LabelSmoothing);
    }

    /// <summary>Plain (unsmoothed, unweighted) cross-entropy, top-1 and top-5 accuracy over a loader, in eval mode.</summary>
    public static (double Loss, double Accuracy, double Top5) Evaluate(ClassifierNet net, BatchLoader loader, Device? device = null)
    {
        net.eval();
        double loss = 0;
        long correct = 0, top5 = 0, n = 0;
        var shape = new long[] { 0, net.Spec.Channels, net.Spec.InputSize, net.Spec.InputSize };
        using (no_grad())
        {
            foreach (var batch in loader.Epoch(0))
            {
                using var scope = NewDisposeScope();
                var x = batch.ImagesTensor(shape);
                var y = tensor(batch.Labels.AsSpan(0, batch.Count).ToArray());
                if (device is not null) { x = x.to(device); y = y.to(device); }
                var logits = net.call(x);
                loss += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
                correct += logits.argmax(1).eq(y).sum().item<long>();
                var k = Math.Min(5, (int)logits.shape[1]);
                top5 += logits.topk(k, 1).indexes.eq(y.unsqueeze(1)).any(1).sum().item<long>();
                n += batch.Count;
            }
        }
        net.train();
        return (loss / n, 100.0 * correct / n, 100.0 * top5 / n);
    }

    private static Device ResolveDevice(string name)
    {
        if (name == "cuda")
        {
            if (!cuda.is_available())
                throw new CliError("--device cuda: no CUDA build of libtorch is loaded (this build ships libtorch-cpu); use --device cpu");
            return CUDA;
        }
        return CPU;
    }

    private static string Fmt(float[] v) => "[" + string.Join(", ", v.Select(x => x.ToString("0.###", CultureInfo.InvariantCulture))) + "]";
}
