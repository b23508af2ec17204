
namespace Edge.Daemon.Pipeline;

public enum TriggerMode { Continuous, Motion, Http, Gpio, Pir }
