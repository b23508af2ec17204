using Edge.Daemon.Models;

namespace Edge.Daemon.Tests;

/// <summary>The managed SHA-256 against .NET's (OpenSSL's, in this process) and sha256sum.</summary>
public class Sha256HasherTests
{
    [Test]
    public void EveryLengthAroundTheBlockAndPaddingBoundariesMatchesOpenSsl()
    {
        var random = new Random(13);
        foreach (var length in new[] { 0, 1, 3, 55, 56, 57, 63, 64, 65, 111, 119, 120, 127, 128, 129, 1000, (1 << 20) + 13 })
        {
            var data = new byte[length];
            random.NextBytes(data);
            var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));
            Assert.That(Sha256Hasher.Hex(data), Is.EqualTo(expected), $"{length} bytes in one piece");
            // In uneven pieces, as a stream delivers them.
            var hasher = new Sha256Hasher();
            for (int at = 0, piece = 1; at < length; at += piece, piece = piece * 3 % 97 + 1) hasher.Append(data.AsSpan(at, Math.Min(piece, length - at)));
            Assert.That(Convert.ToHexStringLower(hasher.Finish()), Is.EqualTo(expected), $"{length} bytes in pieces");
        }
        // FIPS 180-4's own example.
        Assert.That(Sha256Hasher.Hex("abc"u8), Is.EqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    }

    [Test]
    public void AModelFileHashesAsSha256sumSaysIt()
    {
        var model = Path.Combine(RepoPaths.Models, "fashion-mnist-resnet20-pruned.int8.onnx");
        var expected = Tool.Ok("sha256sum", model).Split(' ')[0];
        Assert.That(ModelIdentity.HashFile(model), Is.EqualTo(expected));
    }
}
