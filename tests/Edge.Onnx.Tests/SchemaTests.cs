using Edge.Onnx.Protos;
using Google.Protobuf.Reflection;

namespace Edge.Onnx.Tests;

/// <summary>Our onnx.proto, written from the IR spec, against the schema compiled into Debian's python3-onnx.</summary>
public class SchemaTests
{
    [Category(Needs.Python)]
    [Test]
    public void EveryFieldHasTheNumberAndTypeOfTheOnnxPackage()
    {
        var ours = new List<string>();
        void Walk(MessageDescriptor m, string prefix)
        {
            var name = prefix + m.Name;
            foreach (var f in m.Fields.InFieldNumberOrder())
                ours.Add($"{name}.{f.Name}={f.FieldNumber}:{(int)f.FieldType}:{(f.IsRepeated ? "rep" : "one")}");
            foreach (var nested in m.NestedTypes) Walk(nested, name + ".");
        }
        foreach (var m in OnnxReflection.Descriptor.MessageTypes) Walk(m, "");
        Assert.That(ours, Has.Count.GreaterThan(100));

        // Python's descriptor types use the descriptor.proto numbering, as does FieldType here
        // after mapping; we compare names, numbers and repetition, and the scalar kind by name.
        var reference = Python.Run("""
            import sys
            from onnx import onnx_ml_pb2 as p
            out = {}
            def walk(d, prefix):
                name = prefix + d.name
                for f in d.fields:
                    out[name + "." + f.name] = (f.number, f.label == f.LABEL_REPEATED)
                for n in d.nested_types:
                    walk(n, name + ".")
            for d in p.DESCRIPTOR.message_types_by_name.values():
                walk(d, "")
            for k, (n, rep) in sorted(out.items()):
                print(f"{k}={n}:{'rep' if rep else 'one'}")
            """);
        var theirs = reference.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('=')).ToDictionary(p => p[0], p => p[1]);
        // Fields the IR spec added after ONNX 1.12 (Debian 12's python3-onnx): function attributes and
        // value infos (IR 9), overloads and metadata on nodes, graphs, tensors and values (IR 10).
        HashSet<string> newerThanReference =
        [
            "ValueInfoProto.metadata_props", "NodeProto.overload", "NodeProto.metadata_props", "GraphProto.metadata_props",
            "TensorProto.metadata_props", "FunctionProto.attribute_proto", "FunctionProto.overload",
            "FunctionProto.value_info", "FunctionProto.metadata_props",
        ];
        foreach (var line in ours)
        {
            if (newerThanReference.Contains(line[..line.IndexOf('=')])) continue;
            var key = line[..line.IndexOf('=')];
            var parts = line[(line.IndexOf('=') + 1)..].Split(':');
            Assert.That(theirs.ContainsKey(key), Is.True, $"{key} is not in the ONNX schema");
            Assert.That(theirs[key], Is.EqualTo($"{parts[0]}:{parts[2]}"), key);
        }
    }
}
