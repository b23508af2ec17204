#!/usr/bin/python3
"""Cold start of `edged run` to systemd's READY=1, as systemd sees it (issue 13 goal: <= 150 ms).

  cold_start.py [EDGED] [--runs 20] [-- EXTRA edged run ARGS...]

Starts EDGED (default: artifacts/edged-linux-x64/edged, the published AOT binary) with NOTIFY_SOCKET
pointing at a datagram socket of ours, exactly as systemd's Type=notify does, and times spawn → READY=1;
then SIGTERM and wait. Each run gets a fresh state directory. Prints every run and the median, min and max.
With the shipped default model and sample frames unless EXTRA says otherwise.
"""
import os, socket, statistics, subprocess, sys, tempfile, time

def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        i = args.index("--")
        args, extra = args[:i], args[i + 1:]
    runs = 20
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i:i + 2]
    edged = args[0] if args else "artifacts/edged-linux-x64/edged"
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(runs):
            path = os.path.join(tmp, f"notify-{n}.sock")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(path)
            sock.settimeout(30)
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            probe.close()
            env = dict(os.environ, NOTIFY_SOCKET=path, STATE_DIRECTORY=os.path.join(tmp, f"state-{n}"))
            os.makedirs(env["STATE_DIRECTORY"])
            start = time.perf_counter()
            p = subprocess.Popen([edged, "run", f"--Http:Url=http://127.0.0.1:{port}", *extra], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            ready = None
            try:
                while ready is None:
                    message = sock.recv(4096).decode()
                    if "READY=1" in message.split("\n"):
                        ready = (time.perf_counter() - start) * 1000
            except socket.timeout:
                p.kill()
                sys.exit(f"run {n}: no READY=1 in 30 s: {p.stderr.read().decode()[-500:]}")
            p.terminate()
            p.wait(30)
            sock.close()
            times.append(ready)
            print(f"run {n + 1}: READY=1 after {ready:.1f} ms", flush=True)
    print(f"cold start to READY=1 over {runs} runs: median {statistics.median(times):.1f} ms, "
          f"min {min(times):.1f}, max {max(times):.1f} ({edged})")

if __name__ == "__main__":
    main()
