namespace Edge.Host.Evaluation;

/// <summary>Top-1/top-5, per-class precision/recall/F1 and the confusion matrix, from ranked predictions.</summary>
public static class ClassificationMetrics
{
    public static EvalReport Summarize(string model, string kind, string data, IReadOnlyList<string> labels, int[] truth, int[][] ranked, int skipped = 0)
    {
        var k = labels.Count;
        var confusion = Enumerable.Range(0, k).Select(_ => new int[k]).ToArray();
        var top5 = 0;
        for (var i = 0; i < truth.Length; i++)
        {
            confusion[truth[i]][ranked[i][0]]++;
            if (ranked[i].Take(5).Contains(truth[i])) top5++;
        }
        var perClass = new List<ClassMetrics>();
        for (var c = 0; c < k; c++)
        {
            var tp = confusion[c][c];
            var support = confusion[c].Sum();
            var predicted = confusion.Sum(row => row[c]);
            var precision = predicted == 0 ? 0 : (double)tp / predicted;
            var recall = support == 0 ? 0 : (double)tp / support;
            var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perClass.Add(new ClassMetrics(labels[c], support, precision, recall, f1));
        }
        var correct = Enumerable.Range(0, k).Sum(c => confusion[c][c]);
        var present = perClass.Where(p => p.Support > 0).ToList();
        return new EvalReport
        {
            Model = model, Kind = kind, Data = data, Images = truth.Length, Skipped = skipped,
            Top1 = truth.Length == 0 ? 0 : 100.0 * correct / truth.Length,
            Top5 = truth.Length == 0 ? 0 : 100.0 * top5 / truth.Length,
            MacroF1 = present.Count == 0 ? 0 : present.Average(p => p.F1),
            Labels = labels, PerClass = perClass, Confusion = confusion,
        };
    }

    /// <summary>The indices of the <paramref name="k"/> highest scores, best first (ties: lower index first).</summary>
    public static int[] Rank(ReadOnlySpan<float> scores, int k)
    {
        var order = Enumerable.Range(0, scores.Length).ToArray();
        var copy = scores.ToArray();
        Array.Sort(order, (a, b) => copy[b].CompareTo(copy[a]) is var c && c != 0 ? c : a.CompareTo(b));
        return order[..Math.Min(k, order.Length)];
    }
}
