[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Edge.Onnx.Tests")]
