#!/usr/bin/python3
"""The arm64 build must answer as the x64 build does (issue 13): used by tools/arm64/smoke.sh.

  same_results.py classify X64.json ARM64.json [TOLERANCE]
      `edged classify --json` reports of the same images: top-1 identical for every image, and with a TOLERANCE
      (e.g. 1e-4) every class's score within it (FP32 models; an INT8 model's kernels differ by architecture).
  same_results.py collect N DB -- COMMAND...
      runs COMMAND (an `edged run` writing DB, e.g. under qemu) until it has stored N results, then stops it
      with SIGTERM.
  same_results.py stored N X64_DB ARM64_DB
      compares the first N stored results of the two runs: top-1 and every score within 1e-4.
"""
import json, os, signal, sqlite3, subprocess, sys, time

def fail(message):
    sys.exit(f"arm64 smoke: {message}")

def compare_top(a, b, what, tolerance):
    if a[0]["label"] != b[0]["label"]:
        fail(f"{what}: top-1 {a[0]['label']} on x64, {b[0]['label']} on arm64")
    if tolerance is not None:
        sa = {p["label"]: p["score"] for p in a}
        sb = {p["label"]: p["score"] for p in b}
        for label in sa.keys() & sb.keys():
            if abs(sa[label] - sb[label]) > tolerance:
                fail(f"{what}: {label} scores {sa[label]} on x64, {sb[label]} on arm64 (more than {tolerance} apart)")

def classify(x64, arm64, tolerance):
    a = {r["path"]: r for r in json.load(open(x64))["results"]}
    b = {r["path"]: r for r in json.load(open(arm64))["results"]}
    if a.keys() != b.keys() or not a:
        fail(f"classify: different images: {sorted(a)} vs {sorted(b)}")
    for path in sorted(a):
        if not (a[path]["ok"] and b[path]["ok"]):
            fail(f"classify: {path} failed on one architecture")
        compare_top(a[path]["top"], b[path]["top"], f"classify {path}", tolerance)
    return len(a)

def stored(db, n):
    c = sqlite3.connect(db)
    try:
        return [json.loads(row[0]) for row in c.execute("select top from results order by id limit ?", (n,))]
    except sqlite3.Error:
        return []
    finally:
        c.close()

def collect(n, db, command):
    p = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and p.poll() is None and len(stored(db, n)) < n:
        time.sleep(0.5)
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
    if len(stored(db, n)) < n:
        fail(f"run: {len(stored(db, n))} results stored in {db}, expected {n}: {err.decode()[-600:]}")

def compare_stored(n, x64_db, arm64_db):
    a, b = stored(x64_db, n), stored(arm64_db, n)
    if len(a) < n or len(b) < n:
        fail(f"run: {len(a)} results on x64, {len(b)} on arm64, expected {n}")
    for i, (ta, tb) in enumerate(zip(a, b)):
        compare_top(ta, tb, f"run, result {i + 1}", 1e-4)
    return n

def main():
    args = sys.argv[1:]
    if args[:1] == ["classify"] and len(args) in (3, 4):
        tolerance = float(args[3]) if len(args) == 4 else None
        print(f"arm64 smoke: classify: {classify(args[1], args[2], tolerance)} images, same top-1"
              + (f", scores within {tolerance}" if tolerance else ""))
    elif args[:1] == ["collect"] and "--" in args:
        collect(int(args[1]), args[2], args[args.index("--") + 1:])
    elif args[:1] == ["stored"] and len(args) == 4:
        print(f"arm64 smoke: run: {compare_stored(int(args[1]), args[2], args[3])} stored results, same top-1, scores within 1e-4")
    else:
        sys.exit(__doc__)

if __name__ == "__main__":
    main()
