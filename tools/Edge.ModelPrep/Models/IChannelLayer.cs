namespace Edge.ModelPrep.Models;

/// <summary>A layer whose tensors have channel dimensions that belong to <see cref="ChannelGroup"/>s (what structured pruning cuts).</summary>
public interface IChannelLayer
{
    /// <summary>Each parameter and buffer, named as in the layer's state dictionary, with the group of each dimension (null: not a channel).</summary>
    IEnumerable<(string Tensor, ChannelGroup?[] Dims)> ChannelDims();
}
