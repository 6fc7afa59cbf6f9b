// The gateway's web console: plain JavaScript, no build step, no third-party code.
// Reads the REST API under /api/v1 and live values from its Server-Sent Events stream.
"use strict";

const API = "/api/v1";
const VALIDITY = ["valid", "held", "suspect", "not_valid"];
const SOURCE = ["telemetered", "calculated", "entered", "estimated"];
const MAX_ROWS = 500;

const $ = (id) => document.getElementById(id);
const state = {
  token: localStorage.getItem("iccp-token") || "",
  values: new Map(),   // point -> [value, flags, ts_ms, cov]
  meta: new Map(),     // point -> {owner, units, kind}
  rows: new Map(),     // point -> <tr> shown
  lastUpdates: null, lastPoll: 0, auditLast: 0, source: null, detail: null,
};

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (state.token) h["Authorization"] = "Bearer " + state.token;
  return h;
}

async function api(path, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = headers(opts.headers);
  const response = await fetch(API + path, opts);
  let body = null;
  try { body = await response.json(); } catch (e) { body = {error: response.statusText}; }
  if (!response.ok) {
    const err = new Error(body && body.error ? body.error : response.statusText);
    err.status = response.status; err.body = body;
    throw err;
  }
  return body;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

function fmtValue(v) {
  if (v === null || v === undefined) return "-";
  if (typeof v === "number" && !Number.isInteger(v)) return v.toFixed(3);
  return String(v);
}

function fmtAge(ms) {
  const s = (Date.now() - ms) / 1000;
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function fmtTime(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

// -- tabs -------------------------------------------------------------------------------

for (const button of document.querySelectorAll("#tabs button")) {
  button.addEventListener("click", () => {
    for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b === button);
    for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t.id === button.dataset.tab);
    if (button.dataset.tab === "config" && !$("cfg-text").value) loadConfig();
    if (button.dataset.tab === "points") renderPoints();
  });
}

$("token").value = state.token;
$("token").addEventListener("change", () => {
  state.token = $("token").value.trim();
  localStorage.setItem("iccp-token", state.token);
  connect(); refresh();
});

// -- overview ---------------------------------------------------------------------------

function stateCell(text) { return el("td", {class: "state-" + String(text).toLowerCase()}, String(text)); }

async function refresh() {
  let status, adapters;
  try {
    [status, adapters] = await Promise.all([api("/status"), api("/adapters")]);
  } catch (e) {
    $("gw-version").textContent = "(" + e.message + ")";
    return;
  }
  $("gw-name").textContent = status.gateway;
  $("gw-version").textContent = "v" + status.version;
  document.title = status.gateway + " - ICCP gateway console";
  for (const key of ["total", "valid", "held", "suspect", "not_valid"]) $("points-" + key).textContent = status.points[key];
  const now = Date.now();
  if (state.lastUpdates !== null && now > state.lastPoll) {
    $("rate").textContent = Math.round((status.bus.updates - state.lastUpdates) * 1000 / (now - state.lastPoll));
  }
  state.lastUpdates = status.bus.updates; state.lastPoll = now;
  $("uptime").textContent = status.started.replace("T", " ").slice(0, 19);
  const body = $("adapters").tBodies[0];
  body.replaceChildren(...adapters.adapters.map((a) => el("tr", {},
    el("td", {}, a.name), el("td", {}, a.type), stateCell(a.state),
    el("td", {class: "num"}, String(a.points_owned)), el("td", {class: "num"}, String(a.restarts ?? 0)),
    el("td", {class: "wrap muted"}, a.last_error || ""))));
  const links = $("links").tBodies[0];
  const rows = [];
  for (const s of status.links.servers) {
    rows.push(el("tr", {}, el("td", {}, s.adapter), el("td", {}, "server"), stateCell(s.state),
      el("td", {}, `${s.associations ?? 0} associations, tables ${(s.tables || []).join(", ")}, ` +
        `${s.transfer_sets_running ?? 0} transfer sets, ${s.reports_sent ?? 0} reports sent`)));
  }
  for (const c of status.links.clients) {
    rows.push(el("tr", {}, el("td", {}, c.adapter), el("td", {}, "client"), stateCell(c.state),
      el("td", {}, `${c.address || "-"}, since ${c.since || "-"}, last report ${c.last_report || "-"}, ` +
        `${c.reports_per_s ?? 0} reports/s`)));
  }
  links.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", {colspan: "4", class: "muted"}, "no ICCP adapters"))]));
  renderIccp(status.links);
}

function kv(obj) {
  const box = el("div", {class: "kv"});
  for (const [k, v] of Object.entries(obj)) {
    box.append(el("span", {}, k), el("span", {}, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)));
  }
  return box;
}

function grid(headings, rows) {
  return el("table", {class: "grid"}, el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => c instanceof Node ? c : el("td", {}, c ?? ""))))));
}

function fmtIso(text) { return text ? text.replace("T", " ").replace("Z", "") : "-"; }

function associationBox(p) {
  const sets = (p.transfer_sets || []).map((t) => [t.name, t.data_set || "-",
    stateCell(t.running ? "running" : "stopped"), t.conditions.join(", ") || "-",
    el("td", {class: "num"}, t.interval ? t.interval + " s" : "-"),
    el("td", {class: "num"}, t.integrity_check ? t.integrity_check + " s" : "-"),
    [t.rbe ? "RBE" : "", t.all_changes_reported ? "all changes" : "", t.critical ? "critical" : ""].filter(Boolean).join(", "),
    el("td", {class: "num"}, String(t.reports)), fmtIso(t.last_report)]);
  return el("div", {class: "box assoc", "data-association": String(p.association)},
    el("h3", {}, `association ${p.association}: ${p.ap_title ?? "-"}/${p.ae_qualifier ?? "-"} at ${p.peer}`),
    kv({table: p.table, domain: p.domain, since: fmtIso(p.since), TLS: p.tls ? "yes" : "no"}),
    sets.length ? grid(["transfer set", "data set", "state", "conditions", "interval", "integrity", "mode", "reports", "last report"], sets)
      : el("p", {class: "muted"}, "no transfer set"));
}

function renderIccp(links) {
  $("servers").replaceChildren(...(links.servers.length ? links.servers.map((s) => {
    const box = el("div", {class: "box"}, el("h3", {}, s.adapter),
      kv(Object.fromEntries(Object.entries(s).filter(([k]) => k !== "peers"))));
    const peers = s.peers || [];
    box.append(el("h2", {}, `${peers.length} association${peers.length === 1 ? "" : "s"}`), ...peers.map(associationBox));
    return box;
  }) : [el("p", {class: "muted"}, "none")]));
  $("clients").replaceChildren(...(links.clients.length ? links.clients.map((c) => {
    const box = el("div", {class: "box"}, el("h3", {}, c.adapter + " "), kv(Object.fromEntries(
      Object.entries(c).filter(([k]) => !["data_sets", "transfer_sets", "groups"].includes(k)))));
    if (c.data_sets) {
      const t = el("table", {class: "grid"}, el("thead", {}, el("tr", {}, ...["data set", "mode", "points", "transfer set", "reason"].map((h) => el("th", {}, h)))));
      const tb = el("tbody");
      for (const [name, ds] of Object.entries(c.data_sets)) {
        tb.append(el("tr", {}, el("td", {}, name), el("td", {}, ds.mode ?? ""), el("td", {class: "num"}, String(ds.points ?? "")),
          el("td", {}, ds.transfer_set ?? "-"), el("td", {class: "wrap muted"}, ds.reason ?? "")));
      }
      t.append(tb); box.append(el("h2", {}, "data sets and transfer sets"), t);
    }
    return box;
  }) : [el("p", {class: "muted"}, "none")]));
}

// -- points -----------------------------------------------------------------------------

function globRegex(text) {
  const parts = text.split(",").map((p) => p.trim()).filter(Boolean);
  if (!parts.length) return null;
  const esc = parts.map((p) => "^" + p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
  return new RegExp(esc.join("|"), "i");
}

function matches(point, regex, wanted) {
  if (regex && !regex.test(point)) return false;
  if (!wanted) return true;
  const v = state.values.get(point);
  const validity = v ? VALIDITY[(v[1] >> 4) & 3] : "not_valid";
  return wanted === "bad" ? validity !== "valid" : validity === wanted;
}

function fillRow(tr, point) {
  const v = state.values.get(point);
  const m = state.meta.get(point) || {};
  const validity = v ? VALIDITY[(v[1] >> 4) & 3] : "not_valid";
  tr.className = validity;
  const c = tr.cells;
  c[1].textContent = v ? fmtValue(v[0]) : "-";
  c[2].textContent = m.units || "";
  c[3].replaceChildren(el("span", {class: "q " + validity}, validity.replace("_", " ")));
  c[4].textContent = v ? SOURCE[(v[1] >> 2) & 3] + (v[1] & 1 ? " (time?)" : "") : "";
  c[5].textContent = v ? fmtTime(v[2]) : "";
  c[6].textContent = v ? fmtAge(v[2]) : "";
  c[7].textContent = v ? String(v[3]) : "";
  c[8].textContent = m.owner || "";
}

function renderPoints() {
  const regex = globRegex($("filter").value);
  const wanted = $("validity").value;
  const names = [...state.values.keys()].filter((p) => matches(p, regex, wanted)).sort();
  const body = $("point-table").tBodies[0];
  state.rows = new Map();
  const rows = names.slice(0, MAX_ROWS).map((p) => {
    const tr = el("tr", {"data-point": p}, el("td", {}, p), el("td", {class: "num v"}), el("td"), el("td"),
      el("td"), el("td"), el("td", {class: "num"}), el("td", {class: "num"}), el("td"));
    fillRow(tr, p);
    state.rows.set(p, tr);
    return tr;
  });
  body.replaceChildren(...rows);
  $("shown").textContent = names.length > MAX_ROWS ? `${MAX_ROWS} of ${names.length} points shown: narrow the filter`
    : `${names.length} points`;
}

// -- point detail and history ------------------------------------------------------------

const HISTORY_ROWS = 200;  // the table shows the newest; the sparkline draws them all

function sparkline(rows) {
  const line = $("detail-spark").querySelector("polyline");
  const numbers = rows.filter((r) => typeof r.value === "number");
  if (numbers.length < 2) { line.setAttribute("points", ""); return; }
  const t0 = numbers[0].ts_ms, t1 = numbers[numbers.length - 1].ts_ms;
  let lo = Infinity, hi = -Infinity;
  for (const r of numbers) { lo = Math.min(lo, r.value); hi = Math.max(hi, r.value); }
  const span = hi - lo || 1, width = t1 - t0 || 1;
  line.setAttribute("points", numbers.map((r) =>
    `${((r.ts_ms - t0) * 600 / width).toFixed(1)},${(76 - (r.value - lo) * 72 / span).toFixed(1)}`).join(" "));
}

async function showDetail(point) {
  state.detail = point;
  $("detail").hidden = false;
  $("detail-name").textContent = point;
  const note = $("detail-note"), body = $("detail-history").tBodies[0];
  try {
    const p = await api("/points/" + encodeURIComponent(point));
    if (state.detail !== point) return;  // another point was clicked meanwhile
    $("detail-info").replaceChildren(kv({value: fmtValue(p.value) + (p.units ? " " + p.units : ""),
      validity: p.validity, source: p.source, time: p.ts, cov: p.cov, owner: p.owner, kind: p.kind,
      description: p.description || "-"}));
  } catch (e) { $("detail-info").replaceChildren(el("p", {class: "muted"}, e.message)); }
  try {
    const h = await api("/points/" + encodeURIComponent(point) + "/history?limit=5000&from=" +
      encodeURIComponent($("detail-window").value));
    if (state.detail !== point) return;
    const rows = h.rows;
    note.textContent = `${rows.length} stored rows from ${h.historian}` +
      (h.truncated ? " (the newest of the window: narrow it for older ones)" : "") +
      (rows.length > HISTORY_ROWS ? `, the newest ${HISTORY_ROWS} listed` : "");
    sparkline(rows);
    body.replaceChildren(...rows.slice(-HISTORY_ROWS).reverse().map((r) => el("tr", {class: r.validity},
      el("td", {}, fmtTime(r.ts_ms)), el("td", {class: "num"}, fmtValue(r.value)),
      el("td", {}, el("span", {class: "q " + r.validity}, r.validity.replace("_", " "))),
      el("td", {class: "num"}, String(r.cov)))));
  } catch (e) {
    note.textContent = e.status === 404 ? "no history: " + e.message : "history: " + e.message;
    sparkline([]);
    body.replaceChildren();
  }
}

$("point-table").tBodies[0].addEventListener("click", (e) => {
  const tr = e.target.closest("tr[data-point]");
  if (tr) showDetail(tr.dataset.point);
});
$("detail-close").addEventListener("click", () => { $("detail").hidden = true; state.detail = null; });
$("detail-refresh").addEventListener("click", () => { if (state.detail) showDetail(state.detail); });
$("detail-window").addEventListener("change", () => { if (state.detail) showDetail(state.detail); });

let filterTimer = null;
$("filter").addEventListener("input", () => { clearTimeout(filterTimer); filterTimer = setTimeout(renderPoints, 150); });
$("validity").addEventListener("change", renderPoints);

async function loadMeta() {
  try {
    const data = await api("/points");
    for (const p of data.points) {
      state.meta.set(p.point, {owner: p.owner, units: p.units, kind: p.kind});
      if (!state.values.has(p.point)) state.values.set(p.point, [p.value, p.flags, p.ts_ms, p.cov]);
    }
  } catch (e) { /* shown by the overview */ }
}

function applyValues(rows, snapshot) {
  if (snapshot) state.values = new Map();
  const wanted = $("validity").value;
  let reshape = snapshot;
  for (const [point, value, flags, ts, cov] of rows) {
    const old = state.values.get(point);
    state.values.set(point, [value, flags, ts, cov]);
    const tr = state.rows.get(point);
    if (tr) {
      fillRow(tr, point);
      tr.classList.add("flash");
      setTimeout(() => tr.classList.remove("flash"), 600);
    }
    if (wanted && (!old || ((old[1] >> 4) & 3) !== ((flags >> 4) & 3))) reshape = true;
    if (!old) reshape = true;
  }
  if (reshape && $("points").classList.contains("active")) renderPoints();
}

function connect() {
  if (state.source) state.source.close();
  const url = API + "/stream?interval=0.15" + (state.token ? "&token=" + encodeURIComponent(state.token) : "");
  const source = new EventSource(url);
  state.source = source;
  source.addEventListener("open", () => { $("live").textContent = "live"; $("live").className = "live on"; });
  source.addEventListener("error", () => { $("live").textContent = "offline"; $("live").className = "live off"; });
  source.addEventListener("snapshot", (e) => { applyValues(JSON.parse(e.data), true); });
  source.addEventListener("values", (e) => { applyValues(JSON.parse(e.data), false); });
}

setInterval(() => {
  for (const [point, tr] of state.rows) {
    const v = state.values.get(point);
    if (v) tr.cells[6].textContent = fmtAge(v[2]);
  }
}, 1000);

// -- audit ------------------------------------------------------------------------------

async function pollAudit() {
  try {
    const data = await api("/audit?after=" + state.auditLast + "&limit=500");
    const body = $("audit-table").tBodies[0];
    for (const e of data.events) {
      const ok = e.outcome === "ok";
      body.prepend(el("tr", {class: ok ? "valid" : "not_valid"}, el("td", {class: "num"}, String(e.seq)),
        el("td", {}, fmtTime(e.ts * 1000)), el("td", {}, e.kind), el("td", {}, e.origin), el("td", {}, e.target),
        el("td", {class: "num"}, e.value === null ? "" : String(e.value)),
        el("td", {}, el("span", {class: "q " + (ok ? "valid" : "not_valid")}, e.outcome)),
        el("td", {class: "wrap muted"}, e.detail)));
      state.auditLast = Math.max(state.auditLast, e.seq);
    }
    while (body.rows.length > 1000) body.deleteRow(-1);
  } catch (e) { /* shown by the overview */ }
}

// -- config -----------------------------------------------------------------------------

async function loadConfig() {
  try {
    const data = await api("/config");
    $("cfg-text").value = data.text;
    $("cfg-file").textContent = data.file || "(no file)";
    $("cfg-result").textContent = "";
  } catch (e) { $("cfg-result").textContent = e.message; }
}

function showResult(lines) { $("cfg-result").textContent = lines.filter((l) => l !== undefined).join("\n"); }

async function postConfig(what) {
  const options = {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({text: $("cfg-text").value})};
  try {
    const r = await api("/config/" + what, options);
    if (what === "validate") showResult([r.valid ? "valid" : "NOT VALID", ...r.errors, ...r.warnings.map((w) => "warning: " + w)]);
    else if (what === "diff") showResult([r.lines.length ? "would change:" : "no changes", ...r.lines, ...r.warnings.map((w) => "warning: " + w)]);
    else showResult(["applied: " + r.changes]);
  } catch (e) {
    const b = e.body || {};
    showResult([`${e.status}: ${e.message}`, ...(b.errors || []), ...(b.warnings || []).map((w) => "warning: " + w)]);
  }
}

$("cfg-reload").addEventListener("click", loadConfig);
$("cfg-validate").addEventListener("click", () => postConfig("validate"));
$("cfg-diff").addEventListener("click", () => postConfig("diff"));
$("cfg-apply").addEventListener("click", () => {
  if (confirm("Apply this configuration to the running gateway?")) postConfig("apply");
});

// -- start ------------------------------------------------------------------------------

connect();
loadMeta().then(() => { if ($("points").classList.contains("active")) renderPoints(); });
refresh();
pollAudit();
setInterval(refresh, 2000);
setInterval(pollAudit, 3000);
setInterval(loadMeta, 30000);
