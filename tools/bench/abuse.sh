#!/usr/bin/env bash
# The published edged under abuse, one case after another, on this machine: peak RSS (VmHWM) of the
# daemon in each, and the camera's classification rate with and without four clients uploading large
# images, measured in the same run. Prints one line per case and a summary table.
#   tools/bench/abuse.sh [SECONDS]        (default 10 s per timed case; needs tools/publish.sh first)
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
edged=artifacts/edged-linux-x64/edged
[ -x "$edged" ] || { echo "abuse: publish first: tools/publish.sh linux-x64" >&2; exit 1; }
py=/usr/bin/python3
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
port=18700
camera="ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc=size=640x480:rate=30 -f mjpeg -q:v 5 -"
rows=()

hwm() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null; }
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null; }
status() { curl -s "http://127.0.0.1:$port/api/status"; }
field() { $py -c "import sys,json; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }
start() { # args: edged run arguments; sets pid
  port=$((port + 1))
  "$edged" run --Http:Url=http://127.0.0.1:$port --Store:Enabled=false "$@" > "$work/log-$port" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && return 0; sleep 0.1; done
  echo "abuse: edged did not start: $(tail -n 3 "$work/log-$port")" >&2; return 1
}
stop() { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
row() { rows+=("$1|$2|$3"); printf '%-58s peak RSS %7s MiB   %s\n' "$1" "$2" "$3"; }

$py - "$work" <<'EOF'
import sys, numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.RandomState(1)
y, x = np.mgrid[0:3000, 0:4000]
img = np.stack([(x * 255 // 4000), (y * 255 // 3000), (rng.rand(3000, 4000) * 60).astype(int)], -1).astype("uint8")
Image.fromarray(img).save(f"{d}/12mp.jpg", quality=90)
Image.new("RGB", (8000, 5000), (200, 30, 30)).save(f"{d}/40mp.png")
Image.new("RGB", (5000, 4000), (30, 30, 200)).save(f"{d}/20mp.png")
EOF

# 1-2. The camera alone, then with four clients uploading 12 MP JPEGs as fast as they can.
rate() { # classified/s over $secs
  local a b; a=$(status | field "['frames_classified']"); sleep "$secs"; b=$(status | field "['frames_classified']")
  $py -c "print(round(($b - $a) / $secs, 1))"
}
start --Source:Kind=pipe "--Source:Command=$camera" --Trigger:MaxRate=30 || exit 1
sleep 3; alone=$(rate); row "camera alone (30 fps MJPEG, continuous)" "$(hwm $pid)" "classified ${alone}/s"
for c in 1 2 3 4; do
  ( end=$((SECONDS + secs + 4)); while [ $SECONDS -lt $end ]; do curl -s -o /dev/null -w '%{http_code}\n' --data-binary @"$work/12mp.jpg" "http://127.0.0.1:$port/api/classify"; done ) > "$work/codes-$c" &
done
sleep 2; loaded=$(rate); wait $(jobs -p | grep -v "^$pid$") 2>/dev/null
ok=$(cat "$work"/codes-* | grep -c '^200$'); busy=$(cat "$work"/codes-* | grep -c '^503$'); other=$(cat "$work"/codes-* | grep -vc '^\(200\|503\)$')
row "camera + 4 clients uploading 12 MP JPEGs ($(du -h "$work/12mp.jpg" | cut -f1))" "$(hwm $pid)" "classified ${loaded}/s (alone ${alone}/s); uploads 200: $ok, 503: $busy, other: $other"
stop

# 3. 40 MP PNG uploads (116 KB files) and a 20 MP one: refused from the header / memory given back.
start || exit 1
before=$(rss $pid)
for _ in $(seq 20); do curl -s -o /dev/null -w '%{http_code}\n' --data-binary @"$work/40mp.png" "http://127.0.0.1:$port/api/classify"; done | sort | uniq -c | tr '\n' ' ' > "$work/c40"
row "20 uploads of a 40 MP PNG ($(du -h "$work/40mp.png" | cut -f1))" "$(hwm $pid)" "answers: $(cat "$work/c40")"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$work/20mp.png" "http://127.0.0.1:$port/api/classify")
row "one 20 MP PNG upload" "$(hwm $pid)" "answer $code; RSS before ${before} MiB, after $(rss $pid) MiB"
# 4. 500 concurrent requests.
errors=$($py - "$port" <<'EOF'
import sys, threading, http.client
port = int(sys.argv[1]); bad = []
def get():
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30); c.request("GET", "/api/status")
        if c.getresponse().status != 200: bad.append(1)
    except Exception: bad.append(1)
ts = [threading.Thread(target=get) for _ in range(500)]
[t.start() for t in ts]; [t.join() for t in ts]
print(len(bad))
EOF
)
row "500 concurrent GET /api/status" "$(hwm $pid)" "$errors failed"
stop

# 5. A pipe command writing 400 MB to stderr without a newline, then frames.
start --Source:Kind=pipe "--Source:Command=sh -c \"head -c 400000000 /dev/zero | tr '\\\\000' x >&2; exec $camera\"" --Source:NoFrameTimeoutMs=60000 || exit 1
for _ in $(seq 300); do [ "$(status | field "['frames_classified']")" -gt 0 ] 2>/dev/null && break; sleep 0.2; done
row "pipe source: 400 MB of stderr without a newline" "$(hwm $pid)" "then classified $(status | field "['frames_classified']") frames"
stop

# 6. A watched folder holding a FIFO and a link to /dev/zero beside an image.
mkdir -p "$work/folder"; mkfifo "$work/folder/a.jpg"; ln -s /dev/zero "$work/folder/b.jpg"; cp models/samples/sky.jpg "$work/folder/c.jpg"
start "--Source:Path=$work/folder" --Source:Loop=false --Source:ProcessExisting=true || exit 1
sleep 3
row "watched folder: FIFO + link to /dev/zero + one image" "$(hwm $pid)" "classified $(status | field "['frames_classified']"), health $(curl -s "http://127.0.0.1:$port/healthz" | head -c 40)"
t0=$(date +%s.%N); stop; row "  SIGTERM with the FIFO there" "-" "stopped in $($py -c "import time;print(round(time.time()-$t0,2))") s"

# 7. A model declaring 50 million classes; a 50000x50000 input.
$py - "$work" <<'EOF'
import sys, onnx
from onnx import helper, TensorProto, numpy_helper
import numpy as np
d = sys.argv[1]
def model(out_classes, h, w, name):
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, h, w])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", out_classes])
    n = [helper.make_node("GlobalAveragePool", ["image"], ["p"]), helper.make_node("Flatten", ["p"], ["f"]),
         helper.make_node("Gemm", ["f", "W", "B"], ["scores"], transB=1)]
    g = helper.make_graph(n, name, [x], [y], [numpy_helper.from_array(np.ones((4, 3), np.float32), "W"), numpy_helper.from_array(np.zeros(4, np.float32), "B")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]); m.ir_version = 8
    onnx.save(m, f"{d}/{name}.onnx")
model(50_000_000, 64, 64, "classes")
model(4, 50000, 50000, "input")
EOF
for m in classes input; do
  /usr/bin/time -f "%e %M" -o "$work/time" "$edged" classify --model "$work/$m.onnx" models/samples > "$work/out" 2>&1
  read -r s kb < <(tail -n 1 "$work/time")
  row "classify with a model: $( [ $m = classes ] && echo '50 million classes' || echo '50000x50000 input')" "$($py -c "print(round($kb/1024,1))")" "$s s: $(tail -n 1 "$work/out" | cut -c1-90)"
done

echo
echo "| case | peak RSS (MiB) | result |"
echo "|---|---|---|"
for r in "${rows[@]}"; do IFS='|' read -r a b c <<<"$r"; echo "| $a | $b | $c |"; done
