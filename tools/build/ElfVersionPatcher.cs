// Marks the libstdc++ symbol-version requirements that this machine's libstdc++ lacks as weak in an
// ELF shared library, so that the dynamic loader accepts it. TorchSharp 0.107's libLibTorchSharp.so
// is linked with GCC 13 and asks for GLIBCXX_3.4.32 only for `std::ios_base_library_init`, a link
// marker nothing calls; Debian 12's libstdc++ stops at 3.4.30 (see the platform notes).
// Used as an MSBuild inline task (Directory.Build.targets) on the copy in the build output, and
// compiled into the tests with EDGE_ELF_PATCHER_NO_MSBUILD. netstandard2.0 APIs only (the task compiler's references).
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace Edge.Build
{
    public static class ElfVersionPatcher
    {
        private const uint ShtGnuVerdef = 0x6ffffffd, ShtGnuVerneed = 0x6ffffffe;
        private const ushort VerFlagWeak = 0x2;

        public static readonly string[] LibStdCxxCandidates =
        {
            "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
        };

        /// <summary>The versions a library defines (its .gnu.version_d), e.g. GLIBCXX_3.4.30.</summary>
        public static HashSet<string> DefinedVersions(byte[] elf)
        {
            var result = new HashSet<string>(StringComparer.Ordinal);
            var f = new Elf(elf);
            foreach (var s in f.Sections.Where(s => s.Type == ShtGnuVerdef))
            {
                var strtab = f.Sections[(int)s.Link];
                long off = s.Offset;
                for (var i = 0; i < s.Info; i++)
                {
                    var cnt = f.U16(off + 6);
                    var aux = f.U32(off + 12);
                    var next = f.U32(off + 16);
                    if (cnt > 0) result.Add(f.Str(strtab, f.U32(off + aux)));
                    if (next == 0) break;
                    off += next;
                }
            }
            return result;
        }

        /// <summary>
        /// Requirements of <paramref name="elf"/> on <paramref name="fromLibrary"/> that are neither in
        /// <paramref name="available"/> nor already weak; with <paramref name="apply"/>, marks them weak in place.
        /// </summary>
        public static List<string> WeakenMissing(byte[] elf, string fromLibrary, ISet<string> available, bool apply)
        {
            var changed = new List<string>();
            var f = new Elf(elf);
            foreach (var s in f.Sections.Where(s => s.Type == ShtGnuVerneed))
            {
                var strtab = f.Sections[(int)s.Link];
                long off = s.Offset;
                for (var i = 0; i < s.Info; i++)
                {
                    var cnt = f.U16(off + 2);
                    var file = f.Str(strtab, f.U32(off + 4));
                    long aux = off + f.U32(off + 8);
                    for (var j = 0; j < cnt; j++)
                    {
                        var flags = f.U16(aux + 4);
                        var name = f.Str(strtab, f.U32(aux + 8));
                        if (file == fromLibrary && !available.Contains(name) && (flags & VerFlagWeak) == 0)
                        {
                            changed.Add(name);
                            if (apply)
                            {
                                var weak = (ushort)(flags | VerFlagWeak);
                                elf[aux + 4] = (byte)weak;
                                elf[aux + 5] = (byte)(weak >> 8);
                            }
                        }
                        var nextAux = f.U32(aux + 12);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    var next = f.U32(off + 12);
                    if (next == 0) break;
                    off += next;
                }
            }
            return changed;
        }

        /// <summary>Patches <paramref name="path"/> in place when needed; returns the versions made weak.</summary>
        public static List<string> PatchFile(string path, string systemLibStdCxx)
        {
            var available = DefinedVersions(File.ReadAllBytes(systemLibStdCxx));
            var bytes = File.ReadAllBytes(path);
            var missing = WeakenMissing(bytes, "libstdc++.so.6", available, apply: true);
            if (missing.Count > 0)
            {
                // Write beside first, so that a failed write (full disk) never leaves half a library.
                var tmp = path + ".patching";
                File.WriteAllBytes(tmp, bytes);
                File.Copy(tmp, path, overwrite: true);
                File.Delete(tmp);
            }
            return missing;
        }

        public static string? FindSystemLibStdCxx() => LibStdCxxCandidates.FirstOrDefault(File.Exists);

        private sealed class Elf
        {
            private readonly byte[] _b;
            public readonly List<Section> Sections = new List<Section>();

            public Elf(byte[] b)
            {
                _b = b;
                if (b.Length < 64 || b[0] != 0x7F || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F')
                    throw new InvalidDataException("not an ELF file");
                if (b[4] != 2 || b[5] != 1) throw new InvalidDataException("only 64-bit little-endian ELF files are handled");
                var shoff = (long)BitConverter.ToUInt64(b, 0x28);
                int shentsize = U16(0x3A), shnum = U16(0x3C);
                if (shoff <= 0 || shoff + (long)shnum * shentsize > b.Length) throw new InvalidDataException("ELF section table out of range");
                for (var i = 0; i < shnum; i++)
                {
                    long h = shoff + (long)i * shentsize;
                    var sec = new Section(U32(h + 4), (long)BitConverter.ToUInt64(b, (int)h + 0x18), (long)BitConverter.ToUInt64(b, (int)h + 0x20), U32(h + 0x28), U32(h + 0x2C));
                    if (sec.Offset < 0 || sec.Offset + (sec.Type == 8 ? 0 : sec.Size) > b.Length) throw new InvalidDataException($"ELF section {i} out of range");
                    Sections.Add(sec);
                }
            }

            public ushort U16(long o) => BitConverter.ToUInt16(_b, checked((int)o));
            public uint U32(long o) => BitConverter.ToUInt32(_b, checked((int)o));

            public string Str(Section strtab, uint index)
            {
                var start = checked((int)(strtab.Offset + index));
                var end = Array.IndexOf(_b, (byte)0, start);
                if (end < 0) throw new InvalidDataException("unterminated ELF string");
                return Encoding.ASCII.GetString(_b, start, end - start);
            }
        }

        private sealed class Section
        {
            public Section(uint type, long offset, long size, uint link, uint info) { Type = type; Offset = offset; Size = size; Link = link; Info = info; }
            public uint Type { get; }
            public long Offset { get; }
            public long Size { get; }
            public uint Link { get; }
            public uint Info { get; }
        }
    }

#if !EDGE_ELF_PATCHER_NO_MSBUILD
    /// <summary>MSBuild task: patch the given libraries when the system libstdc++ lacks versions they need.</summary>
    public sealed class WeakenMissingLibStdCxxVersions : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Libraries { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        public override bool Execute()
        {
            var system = ElfVersionPatcher.FindSystemLibStdCxx();
            if (system is null)
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "no system libstdc++.so.6 found; nothing patched");
                return true;
            }
            foreach (var item in Libraries)
            {
                var path = item.ItemSpec;
                if (!File.Exists(path)) continue;
                try
                {
                    var weakened = ElfVersionPatcher.PatchFile(path, system);
                    if (weakened.Count > 0)
                        Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                            $"{Path.GetFileName(path)}: marked {string.Join(", ", weakened)} weak ({system} lacks them)");
                }
                catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
                {
                    Log.LogError($"cannot patch {path}: {e.Message}");
                }
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
