namespace Edge.Host.Datasets;

/// <summary>
/// How a data set's class names are matched to a model's labels, the same everywhere (evaluation,
/// quantization, export parity): by exact (ordinal) name, or, for classes named by numbers ("0".."9",
/// as an IDX labels file gives them) when they are as many as the model's, by that number.
/// </summary>
public static class LabelMatcher
{
    /// <summary>For each of the data's classes, the model's label index.</summary>
    /// <exception cref="DatasetException">A class matches no label; the message names it and the labels.</exception>
    /// <param name="labelsAre">What the labels are called in the message (the model's, or another data set's classes).</param>
    public static int[] Map(IReadOnlyList<string> dataClasses, IReadOnlyList<string> modelLabels, string labelsAre = "the model's labels")
    {
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < modelLabels.Count; i++) byName.TryAdd(modelLabels[i], i);
        var map = new int[dataClasses.Count];
        // By number only when the data names every class by a number and has as many classes as the model
        // (an IDX labels file against its model); a 512-wide feature extractor is no classifier of "0" and "1".
        var byNumber = dataClasses.Count == modelLabels.Count && dataClasses.All(d => int.TryParse(d, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _));
        for (var c = 0; c < dataClasses.Count; c++)
        {
            if (byName.TryGetValue(dataClasses[c], out var i)) map[c] = i;
            else if (byNumber && int.TryParse(dataClasses[c], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var k) && k < modelLabels.Count) map[c] = k;
            else
                throw new DatasetException(
                    $"the data's class '{dataClasses[c]}' is not one of {labelsAre} ({string.Join(", ", modelLabels.Take(12))}{(modelLabels.Count > 12 ? ", ..." : "")}); names are compared exactly, case included");
        }
        return map;
    }
}
