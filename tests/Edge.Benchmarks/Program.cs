using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Edge.Benchmarks.ImagingBenchmarks).Assembly).Run(args);
