using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Edge.Core.Imaging;

/// <summary>
/// Checks that a sequential (baseline or extended, Huffman-coded) JPEG's scans hold every block its
/// header promises. libjpeg, and so Skia, decodes a frame that was cut off mid-scan but still ends
/// with an end-of-image marker (a common USB camera fault) as a whole image, filling the missing part
/// with flat grey, and reports success; the same for scans whose Huffman codes are invalid. This walks
/// the entropy-coded data (Huffman codes only: no dequantisation, no IDCT) and counts the blocks.
/// Progressive, arithmetic-coded and lossless JPEGs are not checked (cameras do not send them).
/// Allocates nothing after construction; not thread-safe (one per decoder).
/// </summary>
public sealed class JpegScanCheck
{
    /// <summary>Why a JPEG failed the check, or <see cref="None"/>.</summary>
    public enum Problem { None, Truncated, BadCode, MissingRestart }

    private const int LookupBits = 11; // 4 KiB a table; almost every code is shorter

    /// <summary>A Huffman table in the form decoding wants: a 9-bit lookup plus canonical limits for longer codes.</summary>
    private sealed class Table
    {
        public readonly ushort[] Lookup = new ushort[1 << LookupBits]; // (length << 8) | symbol; 0 = longer than LookupBits
        public readonly int[] MaxCode = new int[18];                   // per length 1..16, -1 when none; [17] sentinel
        public readonly int[] ValOffset = new int[17];
        public readonly byte[] Values = new byte[256];
        public bool Defined;

        public bool Build(ReadOnlySpan<byte> counts, ReadOnlySpan<byte> values)
        {
            var total = 0;
            foreach (var c in counts) total += c;
            if (total > 256 || values.Length < total) return false;
            values[..total].CopyTo(Values);
            Array.Clear(Lookup);
            int code = 0, k = 0;
            for (var length = 1; length <= 16; length++)
            {
                var n = counts[length - 1];
                ValOffset[length] = k - code;
                if (n == 0)
                {
                    MaxCode[length] = -1;
                }
                else
                {
                    for (var i = 0; i < n; i++, k++, code++)
                    {
                        if (length <= LookupBits)
                        {
                            var shift = LookupBits - length;
                            var first = code << shift;
                            for (var j = 0; j < 1 << shift; j++) Lookup[first + j] = (ushort)((length << 8) | Values[k]);
                        }
                    }
                    MaxCode[length] = code - 1;
                    // As libjpeg: the codes of a length must fit in it, and the all-ones code is reserved.
                    if (code >= 1 << length) return false;
                }
                code <<= 1;
            }
            MaxCode[17] = int.MaxValue;
            Defined = true;
            return true;
        }
    }

    private readonly Table[] _dc = [new(), new(), new(), new()];
    private readonly Table[] _ac = [new(), new(), new(), new()];
    private readonly Table _stdDcLuma = new(), _stdDcChroma = new(), _stdAcLuma = new(), _stdAcChroma = new();
    private readonly int[] _compId = new int[4], _compH = new int[4], _compV = new int[4];
    private readonly int[] _scanComp = new int[4], _scanDc = new int[4], _scanAc = new int[4];

    private readonly Table[] _blockDc = new Table[10], _blockAc = new Table[10]; // JPEG allows at most 10 blocks in an MCU

    public JpegScanCheck()
    {
        // The tables of JPEG Annex K.3, which libjpeg uses when a frame has no DHT (most UVC MJPEG cameras).
        _stdDcLuma.Build(StdDcLumaCounts, StdDcValues);
        _stdDcChroma.Build(StdDcChromaCounts, StdDcValues);
        _stdAcLuma.Build(StdAcLumaCounts, StdAcLumaValues);
        _stdAcChroma.Build(StdAcChromaCounts, StdAcChromaValues);
    }

    /// <summary>Blocks found in the last checked scan that stopped early, and how many it should have had.</summary>
    public (long Found, long Expected) LastCount { get; private set; }

    /// <summary>Checks <paramref name="jpeg"/> (which starts with SOI); returns <see cref="Problem.None"/> when its scans are whole or it is a kind not checked.</summary>
    public Problem Check(ReadOnlySpan<byte> jpeg)
    {
        for (var i = 0; i < 4; i++) _dc[i].Defined = _ac[i].Defined = false;
        int width = 0, height = 0, components = 0, hMax = 1, vMax = 1, restart = 0;
        var sequential = false;
        var pos = 2;
        while (true)
        {
            // Next marker: 0xFF (any fill bytes), then a code.
            while (pos < jpeg.Length && jpeg[pos] != 0xFF) pos++;
            while (pos < jpeg.Length && jpeg[pos] == 0xFF) pos++;
            if (pos >= jpeg.Length) return Problem.None; // the decoder reports a missing end
            var marker = jpeg[pos++];
            if (marker == 0xD9) return Problem.None;                       // EOI
            if (marker is >= 0xD0 and <= 0xD7 or 0x01) continue;           // RSTn, TEM: no length
            if (pos + 2 > jpeg.Length) return Problem.None;
            var length = (jpeg[pos] << 8) | jpeg[pos + 1];
            if (length < 2 || pos + length > jpeg.Length) return Problem.None;
            var segment = jpeg.Slice(pos + 2, length - 2);
            pos += length;
            switch (marker)
            {
                case 0xC0 or 0xC1: // baseline, extended sequential (Huffman)
                    if (segment.Length < 6) return Problem.None;
                    height = (segment[1] << 8) | segment[2];
                    width = (segment[3] << 8) | segment[4];
                    components = segment[5];
                    if (width == 0 || height == 0 || components is < 1 or > 4 || segment.Length < 6 + 3 * components) return Problem.None;
                    hMax = vMax = 1;
                    for (var c = 0; c < components; c++)
                    {
                        _compId[c] = segment[6 + 3 * c];
                        _compH[c] = segment[7 + 3 * c] >> 4;
                        _compV[c] = segment[7 + 3 * c] & 15;
                        if (_compH[c] is < 1 or > 4 || _compV[c] is < 1 or > 4) return Problem.None;
                        hMax = Math.Max(hMax, _compH[c]);
                        vMax = Math.Max(vMax, _compV[c]);
                    }
                    sequential = true;
                    break;
                case 0xC2 or 0xC3 or (>= 0xC5 and <= 0xC7) or (>= 0xC9 and <= 0xCB) or (>= 0xCD and <= 0xCF):
                    return Problem.None; // progressive, lossless, hierarchical or arithmetic: not checked
                case 0xC4:
                    if (!ReadHuffmanTables(segment)) return Problem.None;
                    break;
                case 0xDD:
                    if (segment.Length >= 2) restart = (segment[0] << 8) | segment[1];
                    break;
                case 0xDA:
                {
                    if (!sequential) return Problem.None;
                    var problem = CheckScan(jpeg, segment, pos, width, height, components, hMax, vMax, restart, out pos);
                    if (problem != Problem.None) return problem;
                    break;
                }
            }
        }
    }

    private bool ReadHuffmanTables(ReadOnlySpan<byte> s)
    {
        while (s.Length >= 17)
        {
            var cls = s[0] >> 4;
            var id = s[0] & 15;
            var counts = s.Slice(1, 16);
            var total = 0;
            foreach (var c in counts) total += c;
            if (cls > 1 || id > 3 || s.Length < 17 + total) return false;
            var table = cls == 0 ? _dc[id] : _ac[id];
            if (!table.Build(counts, s.Slice(17, total))) return false;
            s = s[(17 + total)..];
        }
        return true;
    }

    private Problem CheckScan(ReadOnlySpan<byte> jpeg, ReadOnlySpan<byte> header, int dataStart, int width, int height, int components,
        int hMax, int vMax, int restart, out int next)
    {
        next = jpeg.Length;
        if (header.Length < 1) return Problem.None;
        var n = header[0];
        if (n is < 1 or > 4 || header.Length < 1 + 2 * n + 3) return Problem.None;
        var blocksPerMcu = 0;
        for (var i = 0; i < n; i++)
        {
            var id = header[1 + 2 * i];
            var c = Array.IndexOf(_compId, id, 0, components);
            if (c < 0) return Problem.None;
            _scanComp[i] = c;
            _scanDc[i] = header[2 + 2 * i] >> 4;
            _scanAc[i] = header[2 + 2 * i] & 15;
            if (_scanDc[i] > 3 || _scanAc[i] > 3) return Problem.None;
            blocksPerMcu += n == 1 ? 1 : _compH[c] * _compV[c];
        }
        long mcus;
        if (n == 1)
        {
            var c = _scanComp[0];
            var cw = (width * (long)_compH[c] + hMax - 1) / hMax;
            var ch = (height * (long)_compV[c] + vMax - 1) / vMax;
            mcus = ((cw + 7) / 8) * ((ch + 7) / 8);
        }
        else mcus = ((width + 8L * hMax - 1) / (8L * hMax)) * ((height + 8L * vMax - 1) / (8L * vMax));

        if (blocksPerMcu > 10) return Problem.None; // not a valid JPEG; libjpeg refuses it itself
        // The tables of each block of an MCU, in order, looked up once per scan.
        var count = 0;
        for (var i = 0; i < n; i++)
        {
            var c = _scanComp[i];
            var dc = _dc[_scanDc[i]].Defined ? _dc[_scanDc[i]] : _scanDc[i] == 0 ? _stdDcLuma : _stdDcChroma;
            var ac = _ac[_scanAc[i]].Defined ? _ac[_scanAc[i]] : _scanAc[i] == 0 ? _stdAcLuma : _stdAcChroma;
            for (var b = 0; b < (n == 1 ? 1 : _compH[c] * _compV[c]); b++) (_blockDc[count], _blockAc[count++]) = (dc, ac);
        }

        var bits = new BitReader { Pos = dataStart };
        var interval = 0;
        for (long m = 0; m < mcus; m++)
        {
            if (restart > 0 && m > 0 && m % restart == 0)
            {
                if (bits.Overrun) { LastCount = (m * blocksPerMcu, mcus * blocksPerMcu); return Problem.Truncated; }
                // Skip to the marker that must end this interval (a few bytes of read-ahead or padding may precede it).
                var marker = NextMarker(jpeg, bits.Pos);
                if (marker < 0 || jpeg[marker + 1] != 0xD0 + interval % 8)
                {
                    LastCount = (m * blocksPerMcu, mcus * blocksPerMcu);
                    return marker < 0 || jpeg[marker + 1] is < 0xD0 or > 0xD7 ? Problem.Truncated : Problem.MissingRestart;
                }
                interval++;
                bits = new BitReader { Pos = marker + 2 };
            }
            for (var b = 0; b < count; b++)
            {
                if (!Block(ref bits, jpeg, _blockDc[b], _blockAc[b]))
                {
                    LastCount = (m * blocksPerMcu, mcus * blocksPerMcu);
                    return Problem.BadCode;
                }
            }
            if (bits.Overrun) { LastCount = (m * blocksPerMcu, mcus * blocksPerMcu); return Problem.Truncated; }
        }
        next = NextMarker(jpeg, bits.Pos) is var after and >= 0 ? after : jpeg.Length;
        return Problem.None;
    }

    /// <summary>The entropy-coded data being read: a 64-bit buffer (kept in registers: a local struct, not fields).</summary>
    private struct BitReader
    {
        public ulong Buffer;
        public int Count;    // bits in Buffer
        public int Padding;  // of which zeros fed after the data stopped
        public int Pos;
        public bool AtMarker;

        /// <summary>True once decoding has used bits that are not in the data.</summary>
        public readonly bool Overrun => Count < Padding;
    }

    // One symbol at a time: the code and the value bits that follow it are consumed together, and the
    // buffer is topped up only when fewer than 32 bits remain (a code is at most 16 bits, its value 15).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Block(ref BitReader bits, ReadOnlySpan<byte> jpeg, Table dc, Table ac)
    {
        if (bits.Count < 32) Fill(ref bits, jpeg);
        var s = Symbol(dc, bits.Buffer, out var length);
        if ((uint)s > 15) return false;
        bits.Buffer <<= length + s;
        bits.Count -= length + s;
        for (var k = 1; k < 64;)
        {
            if (bits.Count < 32) Fill(ref bits, jpeg);
            var rs = Symbol(ac, bits.Buffer, out length);
            if (rs < 0) return false;
            s = rs & 15;
            bits.Buffer <<= length + s;
            bits.Count -= length + s;
            if (s != 0) k += (rs >> 4) + 1;
            else if (rs == 0xF0) k += 16;
            else break;
        }
        return true;
    }

    /// <summary>The symbol whose code starts <paramref name="buffer"/> (and the code's length), or -1 for a code the table does not have.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Symbol(Table t, ulong buffer, out int length)
    {
        // The index is below 2^LookupBits by construction: no bounds check needed.
        var e = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(t.Lookup), (nint)(buffer >> (64 - LookupBits)));
        if (e != 0)
        {
            length = e >> 8;
            return e & 0xFF;
        }
        return LongSymbol(t, buffer, out length);
    }

    private static int LongSymbol(Table t, ulong buffer, out int length)
    {
        for (length = LookupBits + 1; length <= 16; length++)
        {
            var code = (int)(buffer >> (64 - length));
            if (code <= t.MaxCode[length])
            {
                var index = code + t.ValOffset[length];
                return (uint)index < 256u ? t.Values[index] : -1;
            }
        }
        return -1;
    }

    /// <summary>
    /// Tops the bit buffer up to at least 57 bits: data bytes (FF 00 → FF), or zeros once a marker or the
    /// end is reached. Runs of bytes without 0xFF (almost all of them) are taken several at a time.
    /// </summary>
    private static void Fill(ref BitReader bits, ReadOnlySpan<byte> jpeg)
    {
        while (bits.Count <= 56)
        {
            if (!bits.AtMarker && bits.Pos + 8 <= jpeg.Length)
            {
                var word = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(jpeg.Slice(bits.Pos, 8));
                var inverted = ~word;
                if (((inverted - 0x0101010101010101UL) & ~inverted & 0x8080808080808080UL) == 0) // no 0xFF byte among the eight
                {
                    var take = (64 - bits.Count) >> 3;
                    bits.Buffer |= (word >> (64 - 8 * take)) << (64 - bits.Count - 8 * take);
                    bits.Count += 8 * take;
                    bits.Pos += take;
                    continue;
                }
            }
            int b = 0;
            if (!bits.AtMarker)
            {
                if (bits.Pos >= jpeg.Length) bits.AtMarker = true;
                else if (jpeg[bits.Pos] != 0xFF) b = jpeg[bits.Pos++];
                else if (bits.Pos + 1 < jpeg.Length && jpeg[bits.Pos + 1] == 0x00) { b = 0xFF; bits.Pos += 2; }
                else bits.AtMarker = true;
            }
            if (bits.AtMarker) bits.Padding += 8;
            bits.Buffer |= (ulong)b << (56 - bits.Count);
            bits.Count += 8;
        }
    }

    /// <summary>Position of the next marker (0xFF followed by neither 0x00 nor 0xFF) at or after <paramref name="from"/>, or -1.</summary>
    private static int NextMarker(ReadOnlySpan<byte> jpeg, int from)
    {
        for (var i = from; i + 1 < jpeg.Length; i++)
            if (jpeg[i] == 0xFF && jpeg[i + 1] is not (0x00 or 0xFF)) return i;
        return -1;
    }

    // JPEG Annex K.3 (ITU T.81): counts of codes of length 1..16 and their symbols.
    private static ReadOnlySpan<byte> StdDcLumaCounts => [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    private static ReadOnlySpan<byte> StdDcChromaCounts => [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
    private static ReadOnlySpan<byte> StdDcValues => [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    private static ReadOnlySpan<byte> StdAcLumaCounts => [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
    private static ReadOnlySpan<byte> StdAcLumaValues =>
    [
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
        0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
        0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
        0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
        0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
        0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
        0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
        0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
        0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
        0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
        0xf9, 0xfa,
    ];
    private static ReadOnlySpan<byte> StdAcChromaCounts => [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
    private static ReadOnlySpan<byte> StdAcChromaValues =>
    [
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
        0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
        0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
        0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
        0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
        0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
        0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
        0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
        0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
        0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
        0xf9, 0xfa,
    ];
}
