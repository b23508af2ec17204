using System.Buffers.Binary;
using System.IO.Compression;

namespace Edge.Host.Datasets;

/// <summary>
/// IDX files (MNIST, Fashion-MNIST), plain or gzipped: unsigned-byte tensors, big-endian header
/// <c>00 00 08 NDIM</c> then NDIM sizes.
/// </summary>
public static class IdxFile
{
    /// <summary>Largest IDX file (after decompression).</summary>
    public const long MaxBytes = 2L * 1024 * 1024 * 1024 - 64;

    public static (int[] Dims, byte[] Data) Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = Onnx.IO.BoundedFile.ReadAll(path, MaxBytes);
            if (bytes.Length >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B)
            {
                using var gz = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
                using var ms = new MemoryStream();
                // Bounded: a small gzip can expand to far more than any dataset.
                var chunk = new byte[1 << 16];
                int n;
                while ((n = gz.Read(chunk)) > 0)
                {
                    if (ms.Length + n > MaxBytes) throw new InvalidDataException($"'{path}' expands to more than {MaxBytes >> 20} MiB");
                    ms.Write(chunk, 0, n);
                }
                bytes = ms.ToArray();
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new DatasetException($"cannot read IDX file '{path}': {e.Message}", e);
        }
        if (bytes.Length < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] is 0 or > 4)
            throw new DatasetException(
                $"'{path}' is not an IDX file of unsigned bytes: its magic is {Convert.ToHexString(bytes.AsSpan(0, Math.Min(4, bytes.Length)))}, expected 000008 then 01..04");
        var rank = bytes[3];
        if (bytes.Length < 4 + 4 * rank) throw new DatasetException($"'{path}': the IDX header is truncated");
        var dims = new int[rank];
        long count = 1;
        for (var i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (dims[i] <= 0) throw new DatasetException($"'{path}': dimension {i} is {dims[i]}");
            count *= dims[i];
        }
        var offset = 4 + 4 * rank;
        if (bytes.Length - offset != count)
            throw new DatasetException($"'{path}': the header promises {count} values but the file holds {bytes.Length - offset}");
        return (dims, bytes[offset..]);
    }
}
