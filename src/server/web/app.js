/* zentalk dashboard: plain JavaScript, no framework, no build step.
 * Everything it shows comes from the node's API on this origin, called with
 * the same rules as any client (the bearer token of the Token tab, if any).
 * Text from the node is always set with textContent, never as HTML. */
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "zentalk.token";
const POLL_MS = 2000;
const CHART_POINTS = 90;

/* ---- the API -------------------------------------------------------------- */

function authHeaders(extra) {
  const h = Object.assign({}, extra || {});
  const t = localStorage.getItem(TOKEN_KEY);
  if (t) h.Authorization = "Bearer " + t;
  return h;
}

/* One request; never throws on an HTTP error: {status, json, text}. status
 * 0: the node could not be reached. */
async function api(path, opts) {
  opts = opts || {};
  const init = { method: opts.method || (opts.body !== undefined ? "POST" : "GET"), headers: authHeaders() };
  if (opts.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  if (opts.signal) init.signal = opts.signal;
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    return { status: 0, json: null, text: String(e && e.message ? e.message : e) };
  }
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { json = null; }
  if (r.status === 401) showBanner("This node asks for a token: paste one in the Token tab.");
  return { status: r.status, json, text };
}

function errorText(res) {
  if (res.status === 0) return "the node could not be reached: " + res.text;
  const e = res.json && res.json.error;
  return e ? `${res.status} ${e.code}: ${e.message}` : `HTTP ${res.status}`;
}

function showBanner(msg) {
  const b = $("banner");
  b.textContent = msg;
  b.hidden = !msg;
}

/* ---- small DOM helpers ------------------------------------------------------ */

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

function fillKv(dl, pairs) {
  dl.replaceChildren();
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === "") continue;
    dl.append(el("dt", { text: k }), el("dd", { text: String(v) }));
  }
}

function fillList(ul, items, empty) {
  ul.replaceChildren();
  if (!items.length) ul.append(el("li", { class: "hint", text: empty }));
  for (const it of items) ul.append(it instanceof Node ? it : el("li", { text: String(it) }));
}

function fillTable(table, rows, empty) {
  table.replaceChildren();
  if (!rows.length) {
    if (empty) table.append(el("caption", { class: "hint", text: empty }));
    return;
  }
  const cols = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  table.append(el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { text: c })))));
  const tb = el("tbody");
  for (const r of rows)
    tb.append(el("tr", {}, ...cols.map((c) => {
      const v = r[c];
      return el("td", { text: v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v) });
    })));
  table.append(tb);
}

function fmtDuration(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s";
}

function fmtBytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return n.toFixed(i ? 1 : 0) + " " + u[i];
}

function now() { return new Date().toLocaleTimeString(); }

/* ---- routes this node has ---------------------------------------------------- */

const routes = new Map(); /* path -> {methods, role} */

async function loadRoutes() {
  const r = await api("/ui/routes.json");
  if (r.status === 200 && r.json) for (const x of r.json.routes) routes.set(x.path, x);
}
const hasRoute = (p) => routes.has(p);

/* ---- tabs --------------------------------------------------------------------- */

function selectTab(name) {
  for (const b of document.querySelectorAll("#tabs button"))
    b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const s of document.querySelectorAll("section.tab")) s.hidden = s.id !== "tab-" + name;
  if (name === "overview") redrawCharts();
  history.replaceState(null, "", "#" + name);
}

/* ---- overview --------------------------------------------------------------- */

/* Prometheus text: {"name{labels}": value}. */
function parseMetrics(text) {
  const m = new Map();
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const i = line.lastIndexOf(" ");
    if (i < 0) continue;
    const v = Number(line.slice(i + 1));
    if (!Number.isNaN(v)) m.set(line.slice(0, i), v);
  }
  return m;
}

function metricSum(m, name, labelFilter) {
  let sum = 0, seen = false;
  for (const [k, v] of m) {
    const base = k.split("{")[0];
    if (base !== name) continue;
    if (labelFilter && !labelFilter(k)) continue;
    sum += v;
    seen = true;
  }
  return seen ? sum : null;
}

class Chart {
  constructor(canvas, color) { this.c = canvas; this.color = color; this.pts = []; }
  push(v) { this.pts.push(v); if (this.pts.length > CHART_POINTS) this.pts.shift(); this.draw(); }
  draw() {
    const c = this.c, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || 300, h = c.clientHeight || 140;
    if (!c.offsetParent) return; /* hidden tab: drawn when shown */
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const vals = this.pts.filter((v) => v !== null);
    const top = vals.length ? Math.max(...vals) : 0;
    const max = top > 0 ? top * 1.15 : 1;
    const css = getComputedStyle(document.documentElement);
    g.strokeStyle = css.getPropertyValue("--line"); g.lineWidth = 1;
    g.fillStyle = css.getPropertyValue("--muted"); g.font = "11px system-ui";
    for (let i = 0; i <= 2; i++) {
      const y = 6 + (h - 18) * i / 2;
      g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
      g.fillText((max * (1 - i / 2)).toPrecision(3), 4, y + 11);
    }
    g.strokeStyle = this.color; g.lineWidth = 2; g.beginPath();
    let started = false;
    this.pts.forEach((v, i) => {
      if (v === null) { started = false; return; }
      const x = w - (this.pts.length - 1 - i) * (w / (CHART_POINTS - 1));
      const y = 6 + (h - 18) * (1 - v / max);
      if (started) g.lineTo(x, y); else { g.moveTo(x, y); started = true; }
    });
    g.stroke();
    g.fillStyle = this.color; /* a lone point has no line: a dot for each */
    this.pts.forEach((v, i) => {
      if (v === null) return;
      const x = w - (this.pts.length - 1 - i) * (w / (CHART_POINTS - 1));
      g.beginPath(); g.arc(Math.min(x, w - 2), 6 + (h - 18) * (1 - v / max), 2, 0, 2 * Math.PI); g.fill();
    });
  }
}

const charts = {};
function redrawCharts() { for (const c of Object.values(charts)) c.draw(); }

const state = { prev: null, prevAt: 0, nodeId: null, jobs: [], roles: [] };

function feed(html) {
  const ol = $("job-feed");
  ol.prepend(el("li", {}, el("b", { text: now() }), " " + html));
  while (ol.children.length > 50) ol.lastChild.remove();
}

function renderStatus(s) {
  state.nodeId = s.node_id;
  state.roles = s.roles || [];
  $("ident").textContent = s.node_id + " · v" + s.version;
  fillKv($("node-kv"), [
    ["node id", s.node_id], ["version", s.version + (s.commit ? " (" + s.commit + ")" : "")],
    ["listening", /:0$/.test(s.listen || "") ? location.host : s.listen], ["started", s.started_at], ["uptime", fmtDuration(s.uptime_seconds)],
    ["state", s.ready ? "ready" : "not ready"],
  ]);
  const roles = $("roles");
  roles.replaceChildren();
  for (const r of s.roles || []) {
    const rd = (s.readiness || {})[r] || {};
    roles.append(el("span", { class: "pill " + (rd.ready ? "ok" : "warn"), title: rd.detail || "", text: r + (rd.ready ? " ✓" : " …") }));
  }
  const loaded = new Set(s.models || []);
  fillList($("models"), (s.models_configured || []).map((id) =>
    el("li", {}, el("span", { class: "mono", text: id }), " ",
       el("span", { class: "pill " + (loaded.has(id) ? "ok" : ""), text: loaded.has(id) ? "loaded" : "loads on first use" }))),
    "no model configured (config/models.yaml)");
  const byPeer = (s.jobs && s.jobs.by_peer) || {};
  fillList($("peers"), (s.peers || []).map((p) => {
    const c = byPeer[p];
    return el("li", {}, el("span", { class: "mono", text: p }), c ? " · " + c.ok + " ok, " + c.failed + " failed" : "");
  }), "no peers (a single node)");
  state.jobs = s.jobs ? [["done here", s.jobs.local], ["done remotely", s.jobs.remote],
    ["remote failed", s.jobs.remote_failed], ["refused", s.jobs.refused]] : [];
  fillKv($("jobs-kv"), state.jobs);
}

async function refreshOverview() {
  const st = await api("/v1/status");
  if (st.status === 200 && st.json) {
    renderStatus(st.json);
    if ($("banner").textContent.startsWith("The node")) showBanner("");
  } else if (st.status === 0) {
    showBanner("The node does not answer: " + st.text);
    return;
  }
  const mt = await api("/metrics");
  if (mt.status !== 200) return;
  const m = parseMetrics(mt.text);
  const t = performance.now() / 1000;
  const llm = (k) => k.includes('route="/v1/chat/completions"') || k.includes('route="/v1/completions"');
  const cur = {
    gen: metricSum(m, "zentalk_generated_tokens_total"),
    jobs: metricSum(m, "zentalk_inference_jobs_total"),
    latSum: metricSum(m, "zentalk_http_request_duration_seconds_sum", llm) || 0,
    latCount: metricSum(m, "zentalk_http_request_duration_seconds_count", llm) || 0,
  };
  if (state.prev) {
    const dt = Math.max(0.001, t - state.prevAt);
    const tps = cur.gen !== null && state.prev.gen !== null ? Math.max(0, cur.gen - state.prev.gen) / dt : null;
    charts.tps.push(tps);
    $("tps-now").textContent = tps === null ? "–" : tps.toFixed(1);
    const dc = cur.latCount - state.prev.latCount;
    const lat = dc > 0 ? (cur.latSum - state.prev.latSum) / dc : null;
    charts.lat.push(lat);
    if (lat !== null) $("lat-now").textContent = lat.toFixed(3);
    if (cur.jobs !== null && state.prev.jobs !== null && cur.jobs > state.prev.jobs)
      feed(`${cur.jobs - state.prev.jobs} inference job(s) finished, ${Math.round(cur.gen - state.prev.gen)} tokens`);
  }
  state.prev = cur;
  state.prevAt = t;
  fillKv($("jobs-kv"), [["running now", metricSum(m, "zentalk_inference_slots_active")],
    ["queued", metricSum(m, "zentalk_inference_queue")],
    ["remote in flight", metricSum(m, "zentalk_remote_jobs_in_flight")]].concat(state.jobs || []));
  const tele = [
    ["resident memory", metricSum(m, "process_resident_memory_bytes") !== null ? fmtBytes(metricSum(m, "process_resident_memory_bytes")) : null],
    ["requests in flight", metricSum(m, "zentalk_http_requests_in_flight")],
    ["models loaded", metricSum(m, "zentalk_models_loaded")],
    ["prompt tokens", metricSum(m, "zentalk_prompt_tokens_total")],
    ["generated tokens", cur.gen],
  ];
  for (const [k, v] of m) if (/(^|_)(cpu|gpu|vram|temperature)(_|$)/.test(k.split("{")[0])) tele.push([k, v]);
  fillKv($("telemetry"), tele);
}

/* Panels for routes that other parts of the network add: shown only when
 * this node has such a route (routes.json), so nothing is probed blindly.
 * The orchestrator's node list: a GET route ending in /nodes or /workers
 * answering an array, or {nodes|workers|data: [...]}; earnings: a GET route
 * under /v1/ledger (or naming earnings or payouts). */
const getRoute = (re) => [...routes.values()].find((x) => x.methods.includes("GET") && !x.path.endsWith("/") && re.test(x.path));

const short = (id) => (typeof id === "string" && id.length > 14 ? id.slice(0, 10) + "…" : id);
function ago(ms, nowMs) {
  if (!ms) return "";
  const s = Math.max(0, Math.round(((nowMs || Date.now()) - ms) / 1000));
  return s < 120 ? s + " s ago" : Math.round(s / 60) + " min ago";
}

/* The orchestrator's workers (GET /v1/orchestrator/nodes): a compact row
 * per worker when the answer has the known fields, else every field. */
function nodeRow(n, nowMs) {
  if (!n || typeof n !== "object" || !("node_id" in n)) return n;
  const load = n.load || {};
  return { node: short(n.node_id), state: n.state, models: (n.models || []).join(", "),
    reputation: typeof n.reputation === "number" ? n.reputation.toFixed(2) : n.reputation,
    load: load.busy !== undefined ? load.busy + "/" + (n.slots !== undefined ? n.slots : "?") + (load.queue ? " +" + load.queue + " queued" : "") : "",
    done: n.completed, failed: n.failed, "ms/token": n.latency_ms_per_token, heartbeat: ago(n.last_heartbeat_ms, nowMs) };
}

/* The scheduler's recent jobs (GET /v1/orchestrator/jobs): metadata only. */
function jobRow(j, nowMs) {
  if (!j || typeof j !== "object" || !("job_id" in j)) return j;
  return { job: short(j.job_id), model: j.model, state: j.state, worker: short(j.worker), tokens: j.tokens,
    attempts: j.attempts, updated: ago(j.updated_ms || j.created_ms, nowMs), reason: j.reason };
}

async function listPanel(re, card, table, keys, row, empty) {
  const rt = getRoute(re);
  if (!rt) return;
  const r = await api(rt.path);
  let list = r.json && (Array.isArray(r.json) ? r.json : keys.map((k) => r.json[k]).find(Array.isArray));
  $(card).hidden = !(r.status === 200 && Array.isArray(list));
  if (!Array.isArray(list)) return;
  const nowMs = r.json && r.json.now_ms;
  list = list.slice(0, 50).map((x) => row(x, nowMs));
  fillTable($(table), list, empty);
}

async function refreshNetwork() {
  /* the orchestrator's lists answer only where that role runs: no blind 404 */
  if (state.roles.includes("orchestrator")) {
    await listPanel(/\/(nodes|workers)$/, "card-nodes", "nodes-table", ["nodes", "workers", "data"], nodeRow,
      "no worker has joined this orchestrator (zentalk-node --join URL)");
    await listPanel(/^\/v1\/orchestrator\/jobs$/, "card-netjobs", "netjobs-table", ["jobs", "data"], jobRow, "no job placed on a worker yet");
  }
  const ledger = getRoute(/^\/v1\/ledger|earnings|payouts/);
  if (ledger) {
    const r = await api(ledger.path);
    $("card-ledger").hidden = r.status !== 200;
    if (r.status === 200) $("ledger").textContent = JSON.stringify(r.json, null, 2);
  }
}

/* ---- playground --------------------------------------------------------------- */

const play = { history: [], abort: null };

async function loadModels() {
  const sel = $("play-model");
  const r = await api("/v1/models");
  sel.replaceChildren();
  if (r.status !== 200 || !r.json) {
    sel.append(el("option", { value: "", text: "(" + errorText(r) + ")" }));
    return;
  }
  for (const m of r.json.data) sel.append(el("option", { value: m.id, text: m.id + (m.loaded ? " (loaded)" : "") }));
}

function addMsg(role, text) {
  const d = el("div", { class: "msg " + role, text });
  $("play-messages").append(d);
  d.scrollIntoView({ block: "end" });
  return d;
}

/* Read an SSE body: onEvent(obj) for each "data:" JSON event. */
async function readSse(resp, onEvent) {
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      for (const line of ev.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        onEvent(JSON.parse(data));
      }
    }
  }
}

async function send(ev) {
  ev.preventDefault();
  const text = $("play-input").value;
  if (!text.trim() || play.abort) return;
  const raw = $("play-raw").checked;
  addMsg("user", text);
  $("play-input").value = "";
  const body = { model: $("play-model").value || undefined, stream: true, stream_options: { include_usage: true },
    temperature: Number($("play-temp").value), top_p: Number($("play-top-p").value), max_tokens: Number($("play-max").value) };
  if ($("play-seed").value !== "") body.seed = Number($("play-seed").value);
  const stop = $("play-stop").value.split(",").map((s) => s.replace(/\\n/g, "\n")).filter((s) => s.length);
  if (stop.length) body.stop = stop.slice(0, 4);
  let path;
  if (raw) {
    path = "/v1/completions";
    body.prompt = text;
  } else {
    path = "/v1/chat/completions";
    const sys = $("play-system").value.trim();
    body.messages = (sys ? [{ role: "system", content: sys }] : []).concat(play.history, [{ role: "user", content: text }]);
  }
  const out = addMsg("assistant streaming", "");
  play.abort = new AbortController();
  $("play-send").disabled = true;
  $("play-stop-btn").hidden = false;
  const t0 = performance.now();
  let first = 0, answer = "", usage = null, zt = null, finish = null;
  try {
    const resp = await fetch(path, { method: "POST", headers: authHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify(body), signal: play.abort.signal });
    if (!resp.ok) {
      const t = await resp.text();
      let j = null;
      try { j = JSON.parse(t); } catch (e) { j = null; }
      throw new Error(errorText({ status: resp.status, json: j }));
    }
    await readSse(resp, (o) => {
      if (o.error) throw new Error(o.error.code + ": " + o.error.message);
      if (o.usage) usage = o.usage;
      if (o.zentalk) zt = o.zentalk;
      const c = o.choices && o.choices[0];
      if (!c) return;
      const piece = raw ? c.text : c.delta && c.delta.content;
      if (piece) {
        if (!first) first = performance.now();
        answer += piece;
        out.dataset.chunks = String(Number(out.dataset.chunks || 0) + 1);
        out.textContent = answer;
        out.scrollIntoView({ block: "end" });
      }
      if (c.finish_reason) finish = c.finish_reason;
    });
    if (!raw) play.history.push({ role: "user", content: text }, { role: "assistant", content: answer });
  } catch (e) {
    if (e.name === "AbortError") finish = "stopped";
    else addMsg("error", String(e.message || e));
  } finally {
    out.classList.remove("streaming");
    play.abort = null;
    $("play-send").disabled = false;
    $("play-stop-btn").hidden = true;
  }
  const secs = (performance.now() - t0) / 1000;
  const n = usage ? usage.completion_tokens : null;
  const parts = [finish ? "finish: " + finish : null, first ? "first token " + ((first - t0) / 1000).toFixed(2) + " s" : null,
    n !== null ? n + " tokens, " + (n / Math.max(0.001, (performance.now() - (first || t0)) / 1000)).toFixed(1) + " tokens/s" : null,
    "total " + secs.toFixed(2) + " s", zt ? "ran on " + zt.ran_on + ", seq " + String(zt.seq_hash).slice(0, 12) : null];
  $("play-stats").textContent = parts.filter(Boolean).join(" · ");
  $("play-stats").dataset.done = "1";
  feed(`playground: ${n === null ? "?" : n} tokens in ${secs.toFixed(2)} s`);
}

/* ---- messaging features --------------------------------------------------------- */

/* "name: text" lines as a conversation. */
function lines(text) {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
    const i = l.indexOf(":");
    return i > 0 && i < 32 ? { from: l.slice(0, i).trim(), text: l.slice(i + 1).trim() } : { text: l };
  });
}
const pct = (x) => (x * 100).toFixed(1) + " %";
const res = (j) => (j && (j.result || j)) || {};

const FEATURES = [
  { name: "spam", path: "/v1/features/spam", title: "Spam", example: "WIN a FREE iPhone now!!! Click http://bit.ly/x",
    body: (t) => ({ text: t }), summary: (j) => res(j).label + " · " + pct(res(j).probability) },
  { name: "sentiment", path: "/v1/features/sentiment", title: "Sentiment", example: "I love how fast this is, thank you!",
    body: (t) => ({ text: t }), summary: (j) => res(j).label + " · compound " + res(j).compound },
  { name: "moderate", path: "/v1/features/moderate", title: "Moderation", example: "you are an idiot",
    body: (t) => ({ text: t }), summary: (j) => "action " + res(j).action + (res(j).flagged ? " (flagged)" : "") },
  { name: "language", path: "/v1/features/language", title: "Language", example: "¿Me puedes enviar el archivo otra vez, por favor?",
    body: (t) => ({ text: t }), summary: (j) => (res(j).name || res(j).language) + " · " + pct(res(j).confidence || 0) },
  { name: "entities", path: "/v1/features/entities", title: "Entities", example: "lunch tomorrow at 2pm? $3.50, mail bob@example.org",
    body: (t) => ({ text: t }), summary: (j) => (res(j).entities || []).map((e) => e.type + ": " + e.text).join(", ") || "none" },
  { name: "intents", path: "/v1/features/intents", title: "Intents", example: "Can you send me the report by Friday?",
    body: (t) => ({ text: t }), summary: (j) => { const r = res(j); const a = r.intents || r.labels || []; return a.length ? a.map((x) => x.intent || x.name || x.label).join(", ") : "none"; } },
  { name: "categorize", path: "/v1/features/categorize", title: "Category", example: "Our flight to Lisbon leaves at 7, the hotel is booked.",
    body: (t) => ({ text: t }), summary: (j) => res(j).category + " · score " + res(j).score },
  { name: "translate", path: "/v1/features/translate", title: "Translate (en → es)", example: "The house is big.",
    body: (t) => ({ text: t, source: "en", target: "es" }), summary: (j) => j.translation || "" },
  { name: "smart-replies", path: "/v1/features/smart-replies", title: "Smart replies", example: "alice: are you coming to the meeting at 3?",
    body: (t) => ({ messages: lines(t), me: "me" }), summary: (j) => { const r = res(j); return (r.replies || []).map((x) => typeof x === "string" ? x : x.text).join(" | "); } },
  { name: "summarize", path: "/v1/features/summarize", title: "Summarize", example: "alice: we decided to ship on Monday\nbob: who writes the release notes?\nalice: @bob please write them by Friday",
    body: (t) => ({ messages: lines(t) }), summary: (j) => { const r = res(j); return ((r.key_messages || []).length) + " key message(s), " + ((r.action_items || []).length) + " action item(s)"; } },
  { name: "preprocess", path: "/v1/features/preprocess", title: "Preprocess", example: "Ｈｅｌｌｏ 👋 WORLD https://example.org",
    body: (t) => ({ text: t }), summary: (j) => res(j).normalized || "" },
  { name: "search", path: "/v1/search/query", title: "Search (index, then query)", example: "m1: the invoice for March is attached\nm2: see you at the beach\n? invoice",
    run: async (t) => {
      const msgs = [];
      let q = "";
      for (const l of t.split("\n")) {
        if (l.startsWith("?")) q = l.slice(1).trim();
        else if (l.includes(":")) msgs.push({ id: l.slice(0, l.indexOf(":")).trim(), text: l.slice(l.indexOf(":") + 1).trim() });
      }
      const user = "dashboard";
      const ix = await api("/v1/search/index", { body: { user, messages: msgs } });
      if (ix.status !== 200) return ix;
      return api("/v1/search/query", { body: { user, query: q || "invoice", limit: 5 } });
    },
    summary: (j) => (j.results || []).map((r) => r.id + " (" + Number(r.score).toFixed(3) + ")").join(", ") || "no hit" },
  { name: "live", path: "/v1/ws", title: "Live conversation (WebSocket)", example: "The house is big.",
    run: (t) => wsSend(t), summary: (j) => {
      const a = (j && j.annotations) || {};
      return Object.keys(a).filter((k) => !/^received_at/.test(k)).join(", ") + (a.translation && a.translation.text ? " · " + a.translation.text : "");
    } },
];

/* The live annotations of GET /v1/ws: one connection, opened on first use
 * (a browser cannot send an Authorization header on a WebSocket: this
 * panel works where the API needs no token, e.g. on the node's machine). */
const ws = { sock: null, ready: null, n: 0, waiting: new Map() };

function wsOpen() {
  if (ws.ready) return ws.ready;
  ws.ready = new Promise((resolve) => {
    const s = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/ws");
    ws.sock = s;
    s.onmessage = (ev) => {
      let m = null;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m.type === "hello") resolve(true);
      const w = m.id && ws.waiting.get(m.id);
      if (w) { ws.waiting.delete(m.id); w(m); }
    };
    s.onclose = () => {
      resolve(false);
      ws.ready = null;
      for (const w of ws.waiting.values()) w(null);
      ws.waiting.clear();
    };
  });
  return ws.ready;
}

async function wsSend(text) {
  if (!(await wsOpen())) return { status: 0, json: null, text: "the WebSocket closed (does the node need a token?)" };
  const id = "m" + ++ws.n;
  const answer = new Promise((resolve) => {
    ws.waiting.set(id, resolve);
    setTimeout(() => { if (ws.waiting.delete(id)) resolve(null); }, 15000);
  });
  ws.sock.send(JSON.stringify({ type: "message", conversation: "dashboard", id, from: "me", text, lang: "en", translate_to: "es" }));
  const m = await answer;
  if (!m) return { status: 0, json: null, text: "no answer on the WebSocket" };
  if (m.type === "error") return { status: 400, json: m, text: "" };
  return { status: 200, json: m, text: "" };
}

function showResult(box, r, summary) {
  box.replaceChildren();
  if (r.status !== 200) {
    box.append(el("div", { class: "error", text: errorText(r) }));
    return;
  }
  let s = "";
  try { s = summary ? summary(r.json) : ""; } catch (e) { s = ""; }
  if (s) box.append(el("div", { class: "summary", text: s }));
  box.append(el("pre", { class: "json", text: JSON.stringify(r.json, null, 2) }));
}

function buildFeatures() {
  const grid = $("features");
  for (const f of FEATURES) {
    if (!hasRoute(f.path)) continue;
    const ta = el("textarea", { rows: "3", "aria-label": f.title + " input" });
    ta.value = f.example;
    const out = el("div", { class: "out", "data-out": f.name });
    const btn = el("button", { type: "button", text: "Run" });
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      const r = f.run ? await f.run(ta.value) : await api(f.path, { body: f.body(ta.value) });
      btn.disabled = false;
      showResult(out, r, f.summary);
    });
    grid.append(el("article", { class: "card", id: "feature-" + f.name }, el("h2", { text: f.title }),
      el("p", { class: "hint mono", text: "POST " + f.path }), ta, btn, out));
  }
}

/* ---- privacy -------------------------------------------------------------- */

async function runPii() {
  const r = await api("/v1/privacy/pii", { body: { text: $("pii-text").value, feature: "chat" } });
  showResult($("pii-out"), r, (j) => (j.types || []).join(", ") + " → " + j.pseudonymised);
}

async function runAudit() {
  const id = $("audit-identity").value.trim();
  const r = await api("/v1/privacy/export", { body: id ? { identity: id } : {} });
  const ae = r.json && r.json.data && r.json.data.audit_entries;
  fillTable($("audit-table"), r.status === 200 && ae && ae.items ? ae.items : []);
  const box = $("audit-out");
  box.replaceChildren();
  if (r.status !== 200) box.append(el("div", { class: "error", text: errorText(r) }));
  else box.append(el("div", { class: "summary", text: (ae ? ae.count : 0) + " entries" + (ae && ae.pseudonym ? " under " + ae.pseudonym : "") }));
}

/* ---- token ---------------------------------------------------------------- */

function tokenState() {
  $("token-state").textContent = localStorage.getItem(TOKEN_KEY) ? "A token is saved in this browser." : "No token saved.";
}

/* ---- start ------------------------------------------------------------------ */

async function start() {
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => selectTab(b.dataset.tab));
  charts.tps = new Chart($("chart-tps"), "#2f9e6a");
  charts.lat = new Chart($("chart-lat"), "#d0802c");
  window.addEventListener("resize", redrawCharts);
  $("play-composer").addEventListener("submit", send);
  $("play-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("play-composer").requestSubmit(); }
  });
  $("play-stop-btn").addEventListener("click", () => play.abort && play.abort.abort());
  $("play-clear").addEventListener("click", () => { play.history = []; $("play-messages").replaceChildren(); $("play-stats").textContent = ""; });
  $("play-form").addEventListener("submit", (e) => e.preventDefault());
  $("pii-run").addEventListener("click", runPii);
  $("audit-run").addEventListener("click", runAudit);
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = $("token").value.trim();
    if (t) localStorage.setItem(TOKEN_KEY, t);
    $("token").value = "";
    tokenState();
    location.reload();
  });
  $("token-clear").addEventListener("click", () => { localStorage.removeItem(TOKEN_KEY); tokenState(); });
  tokenState();
  /* the sampling controls start open where there is room beside the chat */
  $("play-sampling").open = window.matchMedia("(min-width: 900px)").matches;
  const tab = location.hash.slice(1);
  selectTab(document.querySelector(`#tabs button[data-tab="${tab}"]`) ? tab : "overview");
  await loadRoutes();
  $("card-pii").hidden = !hasRoute("/v1/privacy/pii");
  $("card-audit").hidden = !hasRoute("/v1/privacy/export");
  buildFeatures();
  await refreshOverview(); /* the roles first: which network panels can answer */
  await Promise.all([loadModels(), refreshNetwork()]);
  document.body.dataset.ready = "1";
  setInterval(refreshOverview, POLL_MS);
  setInterval(refreshNetwork, POLL_MS * 2);
}

document.addEventListener("DOMContentLoaded", start);
