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
function outlines(list) {
  return list.filter((r) => r.name !== "frame" || list.length > 1).map((r) => {
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
}

function regionRows(list) {
  return list.map((r) => {
    const row = document.createElement("tr");
    cell(row, r.name);
    cell(row, r.state ?? "undecided");
    cell(row, time(r.state_since));
    const best = r.latest && r.latest.top.length > 0 ? r.latest.top[0] : null;
    cell(row, best ? best.label + " " + (best.score * 100).toFixed(1) + "%" + (r.decision && r.decision !== best.label ? " (" + r.decision + ")" : "") : "");
    return row;
  });
}

function regions(list) {
  $("outlines").replaceChildren(...outlines(list));
  $("regions").tBodies[0].replaceChildren(...regionRows(list));
}

// The latest frame of a camera into an <img>, replacing the previous object URL only once the new one is there.
async function showFrame(img, query) {
  const r = await fetch("api/frame/latest.jpg" + query, { headers: headers(), cache: "no-store" });
  if (!r.ok) return;
  const url = URL.createObjectURL(await r.blob());
  const old = img.src;
  img.src = url;
  if (old.startsWith("blob:")) URL.revokeObjectURL(old);
}

function counts(c) {
  return [c.frames_captured, c.frames_classified, c.frames_skipped, c.frames_dropped, c.corrupt_frames].join(" / ");
}

function element(tag, className, value) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (value !== undefined) e.textContent = value;
  return e;
}

// Every camera after the first gets a card of its own: name, health, source, frame with its regions, counts. Cards are
// kept between refreshes (keyed by the camera's name) so that frames do not flicker.
const cards = new Map();
async function others(cameras) {
  $("others").hidden = cameras.length === 0;
  const seen = new Set();
  for (const c of cameras) {
    seen.add(c.name);
    let card = cards.get(c.name);
    if (!card) {
      card = { root: element("div", "card"), title: element("h3"), health: element("p"), view: element("div", "view"), img: element("img"),
        boxes: element("div", "outlines"), table: element("table"), facts: element("p") };
      card.img.alt = "latest frame";
      card.view.append(card.img, card.boxes);
      const head = element("tr");
      for (const h of ["region", "state", "since", "latest"]) head.appendChild(element("th", null, h));
      card.table.append(element("thead"), element("tbody"));
      card.table.tHead.appendChild(head);
      card.root.append(card.title, card.health, card.view, card.table, card.facts);
      $("cards").appendChild(card.root);
      cards.set(c.name, card);
    }
    card.title.textContent = c.name;
    card.health.textContent = c.health.ok ? "ok" : c.health.problems.join("; ");
    card.health.className = c.health.ok ? "" : "bad";
    card.boxes.replaceChildren(...outlines(c.regions));
    card.table.tBodies[0].replaceChildren(...regionRows(c.regions));
    card.facts.textContent = c.source.description + " (" + c.source.state + ") · " + c.trigger
      + (c.max_rate ? " at most " + c.max_rate + "/s" : "") + " · captured / classified / skipped / dropped / corrupt " + counts(c);
    await showFrame(card.img, "?camera=" + encodeURIComponent(c.name));
  }
  for (const [name, card] of cards) {
    if (!seen.has(name)) {
      card.root.remove();
      cards.delete(name);
    }
  }
}

let several = false;
function events(list) {
  const items = list.slice(-10).reverse().map((e) => {
    const li = document.createElement("li");
    li.textContent = time(e.time) + " " + (several ? e.camera + "/" : "") + e.region + ": " + (e.from ?? "(start)") + " → " + e.to + " " + (e.score * 100).toFixed(1) + "%";
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
    text("frames", counts(s));
    several = s.cameras.length > 1;
    text("camera", several ? s.camera : "");
    const limited = s.max_rate && (s.trigger === "continuous" || s.trigger === "motion");
    text("trigger", s.trigger + (limited ? " · at most " + s.max_rate + " per second" : ""));
    text("webhooks", s.webhooks.length === 0 ? "none" : s.webhooks.map((w) => w.url + ": " + w.delivered + " / " + w.pending + " / " + w.failed_attempts
      + (w.results.length > 0 ? " · " + w.results_delivered + " results (" + w.results.join(", ") + ")" + (w.results_pending > 0 ? ", " + w.results_pending + " to look at" : "")
        + (w.results_lost > 0 ? ", " + w.results_lost + " deleted first" : "") : "")
      + (w.skipped + w.lost > 0 ? " · " + (w.skipped + w.lost) + " lost" : "") + (w.last_error ? " (" + w.last_error + ")" : "")).join("; "));
    regions(s.regions);
    events(s.recent_events);
    text("errors", s.inference_errors + (s.last_inference_error ? " (" + s.last_inference_error + ")" : ""));
    const m = s.model;
    text("model", m.path + " · " + m.sha256.slice(0, 12) + (m.version ? " · " + m.version : "") + " · " + m.origin
      + (m.probation ? " · on probation " + m.probation.classified + "/" + m.probation.frames : "")
      + (m.warning ? " · " + m.warning : ""));
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
    await showFrame($("frame"), "");
    await others(s.cameras.slice(1));
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
});

// The next refresh is a second after this one ends, never while it runs: on a slow link or with many cameras the
// requests do not pile up.
async function loop() {
  await refresh();
  setTimeout(loop, 1000);
}
loop();
