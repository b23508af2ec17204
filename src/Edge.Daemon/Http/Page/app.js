// The live page. Every string from the daemon (labels, paths, commands, errors: they come from models,
// configs and cameras, i.e. from outside) is inserted with textContent, never as HTML; the server's
// Content-Security-Policy allows this file and nothing inline.
//
// The token, when the daemon needs one, comes in the link's fragment (http://device:8780/#token=...).
// It is read once, removed from the address bar and history, and kept only in this module's scope
// (a module's variables are not globals), never in storage. Without it, a form asks for it.
let token = new URLSearchParams(location.hash.slice(1)).get("token");
if (location.hash) history.replaceState(null, "", location.pathname + location.search);

const $ = (id) => document.getElementById(id);
let frameUrl = null;

function headers() {
  return token ? { Authorization: "Bearer " + token } : {};
}

function text(id, value) {
  $(id).textContent = value === null || value === undefined ? "" : String(value);
}

function bars(top) {
  const rows = top.map((p) => {
    const bar = document.createElement("div");
    bar.className = "bar";
    const percent = Number(p.score) * 100;
    bar.style.width = Math.max(2, Math.min(100, percent)) + "%";
    bar.textContent = p.label + " " + percent.toFixed(1) + "%";
    return bar;
  });
  $("bars").replaceChildren(...rows);
}

function spark(values) {
  const c = $("spark").getContext("2d");
  c.clearRect(0, 0, 300, 60);
  if (values.length < 2) return;
  const max = Math.max(...values) || 1;
  c.beginPath();
  c.strokeStyle = "#2a7";
  values.forEach((x, i) => c.lineTo((i * 300) / (values.length - 1), 58 - (56 * x) / max));
  c.stroke();
}

async function refresh() {
  try {
    const r = await fetch("api/status", { headers: headers(), cache: "no-store" });
    if (r.status === 401) {
      $("login").hidden = false;
      text("error", "this edged needs its token");
      return;
    }
    if (!r.ok) throw new Error("status " + r.status);
    const s = await r.json();
    text("health", s.health.ok ? "ok" : s.health.problems.join("; "));
    $("health").className = s.health.ok ? "" : "bad";
    text("source", s.source.description + " (" + s.source.state + ")");
    text("fps", s.classifications_per_second);
    text("latency", s.latency_ms.p50 + " / " + s.latency_ms.p99 + " ms");
    text("frames", s.frames_captured + " / " + s.frames_dropped + " / " + s.corrupt_frames);
    text("errors", s.inference_errors + (s.last_inference_error ? " (" + s.last_inference_error + ")" : ""));
    const m = s.model;
    text("model", m.path + " · " + m.sha256.slice(0, 12) + (m.version ? " · " + m.version : "") + " · " + m.origin
      + (m.probation ? " · on probation " + m.probation.classified + "/" + m.probation.frames : ""));
    const last = m.updates.recent.length > 0 ? m.updates.recent[m.updates.recent.length - 1] : null;
    text("updates", m.updates.enabled
      ? m.updates.accepted + " / " + m.updates.refused + " / " + m.updates.rolled_back
        + (last ? " (last: " + last.event + " from " + last.origin + (last.detail ? ": " + last.detail : "") + ")" : "")
      : "off");
    if (s.latest && s.latest.top.length > 0) {
      text("label", s.latest.top[0].label);
      bars(s.latest.top);
    }
    spark(s.recent_latency_ms);
    const img = await fetch("api/frame/latest.jpg", { headers: headers(), cache: "no-store" });
    if (img.ok) {
      const url = URL.createObjectURL(await img.blob());
      $("frame").src = url;
      if (frameUrl) URL.revokeObjectURL(frameUrl);
      frameUrl = url;
    }
    text("error", s.source.last_error || s.store.error || "");
  } catch (e) {
    text("error", "cannot reach edged: " + e.message);
  }
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("token").value;
  $("token").value = "";
  $("login").hidden = true;
  refresh();
});

refresh();
setInterval(refresh, 1000);
