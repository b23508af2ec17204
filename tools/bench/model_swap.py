#!/usr/bin/python3
"""Model updates under load (issue 13 goal): zero frames classified by a refused or half-loaded model, and no gap in
classification longer than one frame interval at a good swap.

  model_swap.py [EDGED] [--swaps 10] [--fps 30] [--model M]

Runs EDGED (default: the published artifacts/edged-linux-x64/edged) on a live camera stand-in (ffmpeg's test
pattern as MJPEG at FPS frames per second, real time, through a pipe: frames that arrive while the pipeline is busy
are dropped, as from a camera) in continuous mode at full rate, with the shipped model M. Then it alternates two
releases of M (the same weights, a different edge.version, so a different hash) through POST /api/model SWAPS
times, each after the last one proved itself, with a refused model (truncated) between swaps. At the end it reads
every stored result and reports: frames captured / dropped / classified, results per model, and around each swap
the gap between the last result of the old model and the first of the new one, against the frame interval; plus
the same gap statistics between any two results, for comparison. Prints JSON. Needs ffmpeg and python3-onnx.
"""
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request, urllib.error, hashlib

TOKEN = "bench-token-0123456789abcdef"

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def call(port, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", data=body, method=method,
                                 headers={"Authorization": "Bearer " + TOKEN})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")

def main():
    args = sys.argv[1:]
    def opt(name, default):
        if name in args:
            i = args.index(name)
            value = args[i + 1]
            del args[i:i + 2]
            return value
        return default
    swaps = int(opt("--swaps", "10"))
    fps = float(opt("--fps", "30"))
    model = opt("--model", "models/colors.onnx")
    edged = args[0] if args else "artifacts/edged-linux-x64/edged"
    import onnx
    tmp = tempfile.mkdtemp()
    try:
        releases = []
        for v in ("a", "b"):
            m = onnx.load(model)
            props = [p for p in m.metadata_props if p.key != "edge.version"]
            del m.metadata_props[:]
            m.metadata_props.extend(props)
            m.metadata_props.add(key="edge.version", value="bench-" + v)
            releases.append(m.SerializeToString())
        port = free_port()
        command = (f"ffmpeg -loglevel error -re -f lavfi -i testsrc=size=640x480:rate={fps:g} -f mjpeg -q:v 5 -")
        env = dict(os.environ, XDG_STATE_HOME=os.path.join(tmp, "state"))
        p = subprocess.Popen([edged, "run", f"--Model:Path={model}", "--Source:Kind=pipe", f"--Source:Command={command}",
                              "--Trigger:MaxRate=1000", f"--Http:Url=http://127.0.0.1:{port}", f"--Http:Token={TOKEN}",
                              "--Model:Updates:ProbationFrames=30", f"--Store:Path={os.path.join(tmp, 'results.db')}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    if call(port, "GET", "api/status")[1]["frames_classified"] >= fps * 2:
                        break
                except (urllib.error.URLError, ConnectionError, TypeError):
                    pass
                time.sleep(0.2)
            refused = 0
            for i in range(swaps):
                status, body = call(port, "POST", "api/model", releases[i % 2][: len(releases[i % 2]) // 2])
                refused += status == 422
                status, body = call(port, "POST", "api/model", releases[i % 2])
                if status != 200 or body["outcome"] != "accepted":
                    raise SystemExit(f"swap {i + 1}: {status} {body}")
                want = hashlib.sha256(releases[i % 2]).hexdigest()
                while True:
                    m = call(port, "GET", "api/model")[1]
                    if m["sha256"] == want and m["probation"] is None:
                        break
                    time.sleep(0.1)
            time.sleep(1)
            status = call(port, "GET", "api/status")[1]
            rows, after = [], 0
            while True:
                page = call(port, "GET", f"api/results?after={after}&limit=10000")[1]
                rows += page["results"]
                if not page["results"]:
                    break
                after = page["last_id"]
        finally:
            p.terminate()
            p.wait(timeout=30)
        from datetime import datetime
        times = [datetime.fromisoformat(r["time"]).timestamp() * 1000 for r in rows]
        models = [r["model"] for r in rows]
        gaps_all = [b - a for a, b in zip(times, times[1:])]
        at_swaps = [times[i] - times[i - 1] for i in range(1, len(rows)) if models[i] != models[i - 1]]
        known = {hashlib.sha256(open(model, "rb").read()).hexdigest()[:12]} | {hashlib.sha256(r).hexdigest()[:12] for r in releases}
        interval = 1000 / fps
        print(json.dumps({
            "frame_interval_ms": round(interval, 1),
            "swaps": len(at_swaps), "refused_updates": refused,
            "frames_captured": status["frames_captured"], "frames_dropped": status["frames_dropped"],
            "frames_classified": status["frames_classified"], "inference_errors": status["inference_errors"],
            "results": len(rows), "results_by_unknown_models": sum(m not in known for m in models),
            "gap_at_swap_ms": {"median": round(statistics.median(at_swaps), 1), "max": round(max(at_swaps), 1)},
            "gap_any_ms": {"median": round(statistics.median(gaps_all), 1), "p99": round(sorted(gaps_all)[int(len(gaps_all) * 0.99)], 1),
                           "max": round(max(gaps_all), 1)},
            "swaps_longer_than_one_interval": sum(g > interval * 1.5 for g in at_swaps),
        }, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
