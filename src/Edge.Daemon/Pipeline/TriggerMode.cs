using System.Diagnostics;
using System.Threading.Channels;
using Edge.Core.Imaging;
using Edge.Core.Inference;
using Edge.Daemon.Actions;
using Edge.Daemon.Capture;
using Edge.Daemon.Storage;
using Edge.Daemon.Triggers;
using Microsoft.Extensions.Logging;

namespace Edge.Daemon.Pipeline;

public enum TriggerMode { Continuous, Motion, Http, Gpio }
