using Edge.Onnx.Model;
using Edge.Onnx.Protos;

namespace Edge.Host.Quantization;

/// <summary>Small graph queries and edits shared by preparation and QDQ insertion.</summary>
internal static class GraphEditing
{
    public static Dictionary<string, TensorProto> Initializers(GraphProto g) => g.Initializer.ToDictionary(t => t.Name);

    public static Dictionary<string, NodeProto> Producers(GraphProto g)
    {
        var map = new Dictionary<string, NodeProto>();
        foreach (var n in g.Node)
            foreach (var o in n.Output)
                if (o.Length > 0) map[o] = n;
        return map;
    }

    public static Dictionary<string, List<NodeProto>> Consumers(GraphProto g)
    {
        var map = new Dictionary<string, List<NodeProto>>();
        foreach (var n in g.Node)
            foreach (var i in n.Input)
                if (i.Length > 0)
                {
                    if (!map.TryGetValue(i, out var list)) map[i] = list = [];
                    if (!list.Contains(n)) list.Add(n);
                }
        return map;
    }

    public static bool IsGraphOutput(GraphProto g, string name) => g.Output.Any(o => o.Name == name);

    /// <summary>Makes every reader of <paramref name="from"/> read <paramref name="to"/> instead (graph outputs too).</summary>
    public static void ReplaceUses(GraphProto g, string from, string to, NodeProto? except = null)
    {
        foreach (var n in g.Node)
        {
            if (ReferenceEquals(n, except)) continue;
            for (var i = 0; i < n.Input.Count; i++)
                if (n.Input[i] == from) n.Input[i] = to;
        }
    }

    public static AttributeProto? Attribute(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name);

    public static long Int(NodeProto n, string name, long fallback) => Attribute(n, name) is { } a ? a.I : fallback;

    public static float Float(NodeProto n, string name, float fallback) => Attribute(n, name) is { } a ? a.F : fallback;


    public static string Unique(HashSet<string> names, string wanted)
    {
        var name = wanted;
        for (var i = 1; !names.Add(name); i++) name = $"{wanted}_{i}";
        return name;
    }

    public static HashSet<string> AllNames(GraphProto g)
    {
        var names = new HashSet<string>();
        foreach (var t in g.Initializer) names.Add(t.Name);
        foreach (var i in g.Input) names.Add(i.Name);
        foreach (var n in g.Node)
        {
            foreach (var o in n.Output) names.Add(o);
            if (n.Name.Length > 0) names.Add(n.Name);
        }
        return names;
    }

    public static float[] Floats(TensorProto t) => TensorData.ToFloats(t);
}
