namespace Edge.Daemon.Regions;

/// <summary>
/// A named rectangle of the camera's frame, classified on its own (<c>Regions</c> in edged.json), in fractions of
/// the frame: <c>{ "Name": "latch", "X": 0.1, "Y": 0.2, "Width": 0.3, "Height": 0.3 }</c>.
/// </summary>
public sealed record RegionOptions
{
    public string Name { get; set; } = "";
    public double X { get; set; }
    public double Y { get; set; }
    public double Width { get; set; } = 1;
    public double Height { get; set; } = 1;
}
