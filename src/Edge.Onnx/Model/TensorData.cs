using System.Runtime.InteropServices;
using Edge.Onnx.Protos;
using Google.Protobuf;

namespace Edge.Onnx.Model;

/// <summary>Conversions between <see cref="TensorProto"/> and plain arrays.</summary>
public static class TensorData
{
    public static TensorProto FromFloats(string name, ReadOnlySpan<float> data, params long[] dims) =>
        FromRaw(name, data, TensorProto.Types.DataType.Float, dims);

    public static TensorProto FromInt64s(string name, ReadOnlySpan<long> data, params long[] dims) =>
        FromRaw(name, data, TensorProto.Types.DataType.Int64, dims);

    public static TensorProto FromInt32s(string name, ReadOnlySpan<int> data, params long[] dims) =>
        FromRaw(name, data, TensorProto.Types.DataType.Int32, dims);

    public static TensorProto FromInt8s(string name, ReadOnlySpan<sbyte> data, params long[] dims) =>
        FromRaw(name, data, TensorProto.Types.DataType.Int8, dims);

    public static TensorProto FromUInt8s(string name, ReadOnlySpan<byte> data, params long[] dims) =>
        FromRaw(name, data, TensorProto.Types.DataType.Uint8, dims);

    /// <summary>A tensor stored in raw_data: the values' bytes, little-endian as ONNX requires (and as every supported CPU is).</summary>
    private static TensorProto FromRaw<T>(string name, ReadOnlySpan<T> data, TensorProto.Types.DataType type, long[] dims) where T : unmanaged
    {
        CheckCount(name, data.Length, dims);
        var t = new TensorProto { Name = name, DataType = (int)type };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data));
        return t;
    }

    /// <summary>Number of elements (product of dims; 1 for a scalar); long.MaxValue when the dims (from a file) overflow, 0 when one is negative.</summary>
    public static long ElementCount(TensorProto t)
    {
        long n = 1;
        foreach (var d in t.Dims)
        {
            if (d < 0) return 0;
            if (d != 0 && n > long.MaxValue / d) return long.MaxValue;
            n *= d;
        }
        return n;
    }

    /// <summary>Reads a FLOAT tensor from raw_data or float_data.</summary>
    public static float[] ToFloats(TensorProto t)
    {
        if (t.DataType != (int)TensorProto.Types.DataType.Float)
            throw new InvalidOperationException($"tensor '{t.Name}' is {(TensorProto.Types.DataType)t.DataType}, not FLOAT");
        if (!t.RawData.IsEmpty) return MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();
        return [.. t.FloatData];
    }

    /// <summary>Reads an INT64 tensor (shape constants, axes) from raw_data or int64_data.</summary>
    public static long[] ToInt64s(TensorProto t)
    {
        if (t.DataType != (int)TensorProto.Types.DataType.Int64)
            throw new InvalidOperationException($"tensor '{t.Name}' is {(TensorProto.Types.DataType)t.DataType}, not INT64");
        if (!t.RawData.IsEmpty) return MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray();
        return [.. t.Int64Data];
    }

    private static void CheckCount(string name, int count, long[] dims)
    {
        long n = 1;
        foreach (var d in dims) n *= d;
        if (n != count)
            throw new ArgumentException($"tensor '{name}': {count} values do not fill shape [{string.Join(",", dims)}] ({n} elements)");
    }
}
