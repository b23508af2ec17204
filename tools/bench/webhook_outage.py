#!/usr/bin/python3
"""Webhooks through a receiver outage and a daemon restart (issue 14 goal): every event delivered once or more, in
order per region, none lost across the restart.

  webhook_outage.py [EDGED] [--down 60] [--fps 5] [--results red,blue]

Runs EDGED (default: the published artifacts/edged-linux-x64/edged) on the shipped sample frames (they change colour
every frame, so with Decision:Consecutive=1 every classified frame changes the state of both regions) with two regions
and a signed webhook to a receiver of ours that is down (nothing listening) for DOWN seconds. Halfway through the outage
edged is stopped (SIGTERM) and started again on the same results database. Then the receiver comes up; once every stored
event has arrived, it reports: events stored, deliveries received, distinct events, duplicates, missing ids, order
violations per region (an event whose `from` is not the previous event's `to`, a restart's `from: null` excepted), bad
signatures, and how long after the receiver came up the backlog was delivered. With --results the webhook also asks for
every result of those classes (Webhooks:0:Results): the report then checks those too against the stored results decided
as one of them (plain SQL on the database), that deliveries of both kinds arrived in time order, and that no state
change to an asked-for class came before the result that caused it. Prints JSON.
"""
import hashlib, hmac, http.server, json, os, signal, socket, sqlite3, subprocess, sys, tempfile, threading, time

SECRET = "outage-secret-0123456789abcdef"

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def main():
    args = sys.argv[1:]
    def opt(name, default):
        if name in args:
            i = args.index(name); v = args[i + 1]; del args[i:i + 2]; return type(default)(v)
        return default
    down, fps, classes = opt("--down", 60.0), opt("--fps", 5.0), [c for c in opt("--results", "").split(",") if c]
    edged = args[0] if args else "artifacts/edged-linux-x64/edged"
    hook_port = free_port()
    received, lock = [], threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            good = self.headers.get("X-Edge-Signature-256") == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            with lock:
                received.append((json.loads(body), good, time.monotonic()))
            self.send_response(204); self.send_header("Content-Length", "0"); self.end_headers()
        def log_message(self, *a): pass

    def changes_before_their_result(everything):
        seen, early = set(), 0
        for body, _, _ in everything:
            if body["kind"] == "result":
                seen.add((body["region"], body["time"], body["decision"]))
            elif body["to"] in classes and (body["region"], body["time"], body["to"]) not in seen:
                early += 1
        return early

    def matching(con):
        if not classes:
            return set()
        marks = ",".join("?" * len(classes))
        return {r[0] for r in con.execute(f"SELECT id FROM results WHERE decision IN ({marks})", classes)}

    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "results.db")
        def start():
            port = free_port()
            p = subprocess.Popen([edged, "run", f"--Http:Url=http://127.0.0.1:{port}", f"--Store:Path={db}", "--Model:Updates:Enabled=false",
                                  f"--Source:Fps={fps}", f"--Trigger:MaxRate={fps}", "--Decision:Consecutive=1",
                                  "--Regions:0:Name=left", "--Regions:0:Width=0.5", "--Regions:1:Name=right", "--Regions:1:X=0.5", "--Regions:1:Width=0.5",
                                  f"--Webhooks:0:Url=http://127.0.0.1:{hook_port}/hook", f"--Webhooks:0:Secret={SECRET}"]
                                 + [f"--Webhooks:0:Results:{i}={c}" for i, c in enumerate(classes)],
                                 env=dict(os.environ, STATE_DIRECTORY=tmp), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return p
        def stop(p):
            p.send_signal(signal.SIGTERM); p.wait(timeout=30)
        t0 = time.monotonic()
        p = start()
        time.sleep(down / 2)
        stop(p)                      # a restart in the middle of the outage
        p = start()
        time.sleep(max(0, down - (time.monotonic() - t0)))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", hook_port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        up = time.monotonic()
        caught_up = None
        while time.monotonic() - up < 300:
            time.sleep(0.5)
            con = sqlite3.connect(db)
            stored = con.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
            wanted = matching(con)
            with lock:
                ids = {e["id"] for e, _, _ in received if e["kind"] == "state-change"}
                rids = {e["id"] for e, _, _ in received if e["kind"] == "result"}
            if stored and ids.issuperset(range(1, stored + 1)) and rids.issuperset(wanted):
                caught_up = time.monotonic() - up
                break
        stop(p)
        time.sleep(1)
        server.shutdown()
        con = sqlite3.connect(db)
        stored = con.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM events").fetchone()
        wanted = matching(con)
        with lock:
            everything = list(received)
        got = [x for x in everything if x[0]["kind"] == "state-change"]
        results = [x for x in everything if x[0]["kind"] == "result"]
        result_ids = [e["id"] for e, _, _ in results]
        ids = [e["id"] for e, _, _ in got]
        first = {}
        for e, _, _ in got:
            first.setdefault(e["id"], e)
        order_errors, last = 0, {}
        for i in sorted(first):
            e = first[i]
            if e["from"] is not None and e["region"] in last and last[e["region"]] != e["from"]:
                order_errors += 1
            last[e["region"]] = e["to"]
        arrival = [e["id"] for e, _, _ in got if True]
        out_of_order = sum(1 for a, b in zip(arrival, arrival[1:]) if b < a)
        report = {
            "receiver_down_s": down, "fps": fps, "events_stored": stored[0], "last_event_id": stored[1],
            "deliveries_received": len(got), "distinct_events": len(first), "duplicates": len(got) - len(first),
            "missing": sorted(set(range(1, stored[1] + 1)) - set(first)), "bad_signatures": sum(1 for _, g, _ in got if not g),
            "arrived_out_of_id_order": out_of_order, "region_chain_breaks": order_errors,
            "restart_starts": sum(1 for e in first.values() if e["from"] is None),
            "backlog_delivered_after_up_s": None if caught_up is None else round(caught_up, 1),
        }
        if classes:
            report.update({
                "results_asked": classes, "results_stored_matching": len(wanted), "result_deliveries_received": len(results),
                "results_distinct": len(set(result_ids)), "results_missing": len(set(wanted) - set(result_ids)),
                "results_not_asked_for": sum(1 for e, _, _ in results if e["decision"] not in classes or e["id"] not in wanted),
                "results_arrived_out_of_id_order": sum(1 for a, b in zip(result_ids, result_ids[1:]) if b < a),
                "bad_signatures": sum(1 for _, g, _ in everything if not g),
                "arrived_out_of_time_order": sum(1 for a, b in zip(everything, everything[1:]) if b[0]["time"] < a[0]["time"]),
                # With Consecutive 1 a change to an asked-for class is caused by a result of that class at its time and region.
                "changes_before_their_result": changes_before_their_result(everything),
            })
        print(json.dumps(report, indent=2))
        return 0 if not report["missing"] and report["bad_signatures"] == 0 and order_errors == 0 and not report.get("results_missing") else 1

if __name__ == "__main__":
    sys.exit(main())
