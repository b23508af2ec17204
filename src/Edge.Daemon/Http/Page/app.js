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
    bar.style.width = Math.max(0, Math.min(100, percent)) + "%"; // 0% is an empty bar
    bar.textContent = p.label + " " + percent.toFixed(1) + "%";
    return bar;
  });
  $("bars").replaceChildren(...rows);
}

function cell(row, value) {
  const td = document.createElement("td");
  td.textContent = value === null || value === undefined ? "" : String(value);
  row.appendChild(td);
}

function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "";
}

// Each region's rectangle over the frame (fractions of it, so it follows the image's size) with its name and state.
function regions(list) {
  const boxes = list.filter((r) => r.name !== "frame" || list.length > 1).map((r) => {
    const box = document.createElement("div");
    box.className = "outline";
    box.style.left = r.x * 100 + "%";
    box.style.top = r.y * 100 + "%";
    box.style.width = r.width * 100 + "%";
    box.style.height = r.height * 100 + "%";
    const tag = document.createElement("span");
    tag.textContent = r.name + ": " + (r.state ?? "…");
    box.appendChild(tag);
    return box;
  });
  $("outlines").replaceChildren(...boxes);
  const rows = list.map((r) => {
    const row = document.createElement("tr");
    cell(row, r.name);
    cell(row, r.state ?? "undecided");
    cell(row, time(r.state_since));
    const best = r.latest && r.latest.top.length > 0 ? r.latest.top[0] : null;
    cell(row, best ? best.label + " " + (best.score * 100).toFixed(1) + "%" + (r.decision && r.decision !== best.label ? " (" + r.decision + ")" : "") : "");
    return row;
  });
  $("regions").tBodies[0].replaceChildren(...rows);
}

function events(list) {
  const items = list.slice(-10).reverse().map((e) => {
    const li = document.createElement("li");
    li.textContent = time(e.time) + " " + e.region + ": " + (e.from ?? "(start)") + " → " + e.to + " " + (e.score * 100).toFixed(1) + "%";
    return li;
  });
  $("events").replaceChildren(...items);
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
    text("frames", [s.frames_captured, s.frames_classified, s.frames_skipped, s.frames_dropped, s.corrupt_frames].join(" / "));
    const limited = s.max_rate && (s.trigger === "continuous" || s.trigger === "motion");
    text("trigger", s.trigger + (limited ? " · at most " + s.max_rate + " per second" : ""));
    text("webhooks", s.webhooks.length === 0 ? "none" : s.webhooks.map((w) => w.url + ": " + w.delivered + " / " + w.pending + " / " + w.failed_attempts
      + (w.skipped + w.lost > 0 ? " · " + (w.skipped + w.lost) + " lost" : "") + (w.last_error ? " (" + w.last_error + ")" : "")).join("; "));
    regions(s.regions);
    events(s.recent_events);
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
