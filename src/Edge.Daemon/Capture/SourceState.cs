
namespace Edge.Daemon.Capture;

public enum SourceState { Starting, Running, Reconnecting, Ended, Stopped }
