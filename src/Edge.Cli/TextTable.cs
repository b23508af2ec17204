using System.Text;

namespace Edge.Cli;

/// <summary>A plain aligned table for terminals and logs (no colour codes, so it pipes cleanly).</summary>
public sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];
    private readonly HashSet<int> _rightAligned = [];

    public TextTable AlignRight(params int[] columns)
    {
        foreach (var c in columns) _rightAligned.Add(c);
        return this;
    }

    public void Add(params string[] cells) => _rows.Add(cells);

    public override string ToString()
    {
        var widths = headers.Select(h => h.Length).ToArray();
        foreach (var row in _rows)
            for (var i = 0; i < row.Length && i < widths.Length; i++)
                widths[i] = Math.Max(widths[i], row[i].Length);
        var sb = new StringBuilder();
        void Line(string[] cells)
        {
            for (var i = 0; i < widths.Length; i++)
            {
                var cell = i < cells.Length ? cells[i] : "";
                var padded = _rightAligned.Contains(i) ? cell.PadLeft(widths[i]) : cell.PadRight(widths[i]);
                sb.Append(i == 0 ? "" : "  ").Append(i == widths.Length - 1 && !_rightAligned.Contains(i) ? cell : padded);
            }
            sb.Append('\n');
        }
        Line(headers);
        sb.Append(string.Join("  ", widths.Select(w => new string('-', w)))).Append('\n');
        foreach (var row in _rows) Line(row);
        return sb.ToString();
    }
}
