using System.Text;

namespace Edge.Onnx.IO;

/// <summary>
/// The one way Edge writes a file a reader may open at any moment (models, reports, run files): into a
/// temporary file beside it, flushed to disk, then renamed over the target. A reader sees the old file
/// or the new one, never half of one; a crash leaves at most a ".tmp-" file behind, never a cut model.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        // Said with the file the user named, not the temporary's name.
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"cannot write '{path}': the folder '{folder}' does not exist");
        // Unique per writer: two processes (or threads) saving the same file never share a temporary.
        var tmp = $"{full}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    public static void Write(string path, byte[] bytes) => Write(path, s => s.Write(bytes));

    public static void WriteText(string path, string text) => Write(path, Encoding.UTF8.GetBytes(text));
}
