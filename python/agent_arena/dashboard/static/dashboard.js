// Agent Arena live dashboard: one EventSource (/events), a table of agents, a latency plot.
// Plain JS, no build step. The first message holds everything, later ones what changed.
"use strict";

const SPAN_S = 120; // the plot's time window
const MAX_POINTS = 6000;
const STATUS_ORDER = ["ok", "fallback", "timeout", "superseded", "stopping", "abandoned"];
const css = getComputedStyle(document.documentElement);
const COLORS = Object.fromEntries(STATUS_ORDER.map((s) => [s, css.getPropertyValue("--" + s).trim() || "#ccc"]));

const arena = { seq: 0, updates: 0, rows: new Map(), points: [], clockSkew: 0, last: null };
window.__arena = arena; // for tests and the curious

const $ = (id) => document.getElementById(id);

function text(el, value) {
  el.textContent = value === null || value === undefined ? "" : String(value);
}

function apply(data) {
  if (data.full) {
    arena.rows.clear();
    arena.points = [];
  }
  arena.seq = data.seq;
  arena.updates += 1;
  arena.last = data;
  arena.clockSkew = Date.now() / 1000 - data.now;
  for (const r of data.rows) arena.rows.set(r.session + "\u0000" + r.agent, r);
  for (const p of data.points) arena.points.push(p);
  if (arena.points.length > MAX_POINTS) arena.points.splice(0, arena.points.length - MAX_POINTS);
  text($("backend"), data.server.backend);
  text($("model"), data.server.model);
  text($("rate"), data.rate.toFixed(1));
  text($("in_flight"), data.in_flight);
  text($("sessions"), data.sessions);
  text($("agents"), data.agents);
  text($("errors"), data.errors);
  text($("footer"), `agent-arena ${data.server.version} · bridge ${data.server.endpoint || "-"} · ` +
    `${arena.seq} decisions seen · read-only`);
  renderStatuses(data.totals);
  renderTable(data.seq);
  draw();
}

function renderStatuses(totals) {
  const box = $("statuses");
  box.replaceChildren();
  for (const s of STATUS_ORDER) {
    if (!totals[s] && s !== "ok") continue;
    const chip = document.createElement("span");
    chip.className = "chip s-" + s;
    chip.dataset.status = s;
    chip.append(s);
    const b = document.createElement("b");
    text(b, totals[s] || 0);
    chip.append(b);
    box.append(chip);
  }
}

function renderTable(seq) {
  const rows = [...arena.rows.values()].sort(
    (a, b) => a.session.localeCompare(b.session) || a.agent.localeCompare(b.agent, undefined, { numeric: true }));
  const body = document.querySelector("#agents-table tbody");
  const out = [];
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.dataset.session = r.session;
    tr.dataset.agent = r.agent;
    tr.dataset.tick = r.tick;
    tr.dataset.tool = r.tool || "";
    tr.dataset.status = r.status;
    if (r.seq === seq) tr.className = "fresh";
    const cells = [
      [r.session.slice(0, 8), ""], [r.agent, ""], [r.profile, ""], [r.tick, "num"],
      [r.observation, "obs"], [r.call, "call"], [r.thought || "", "thought"],
      [r.status, "s-" + r.status], [r.latency_ms.toFixed(0) + " ms", "num"],
    ];
    for (const [value, cls] of cells) {
      const td = document.createElement("td");
      if (cls) td.className = cls;
      if (cls === "obs") td.title = value;
      text(td, value);
      tr.append(td);
    }
    if (r.reason) tr.title = r.reason;
    out.push(tr);
  }
  body.replaceChildren(...out);
  text($("rows-note"), `(${rows.length}; latest decision of each)`);
}

function draw() {
  const canvas = $("latency");
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const left = 56, right = 10, top = 10, bottom = 22;
  const now = Date.now() / 1000 - arena.clockSkew;
  const pts = arena.points.filter((p) => p[0] >= now - SPAN_S);
  let lo = 1, hi = 100;
  if (pts.length) {
    lo = Math.min(...pts.map((p) => Math.max(p[1], 0.01)));
    hi = Math.max(...pts.map((p) => Math.max(p[1], 0.01)));
  }
  const l0 = Math.floor(Math.log10(lo)), l1 = Math.max(Math.ceil(Math.log10(hi)), l0 + 1);
  const x = (t) => left + ((t - (now - SPAN_S)) / SPAN_S) * (w - left - right);
  const y = (ms) => top + (1 - (Math.log10(Math.max(ms, 0.01)) - l0) / (l1 - l0)) * (h - top - bottom);
  g.strokeStyle = css.getPropertyValue("--line").trim();
  g.fillStyle = css.getPropertyValue("--dim").trim();
  g.font = "11px system-ui, sans-serif";
  g.lineWidth = 1;
  for (let e = l0; e <= l1; e++) {
    const yy = y(10 ** e);
    g.beginPath(); g.moveTo(left, yy); g.lineTo(w - right, yy); g.stroke();
    const ms = 10 ** e;
    g.fillText(ms >= 1000 ? ms / 1000 + " s" : ms + " ms", 4, yy + 4);
  }
  for (let s = 0; s <= SPAN_S; s += 30) {
    const xx = x(now - SPAN_S + s);
    g.fillText(s === SPAN_S ? "now" : "-" + (SPAN_S - s) + " s", xx - 12, h - 6);
  }
  for (const [t, ms, st] of pts) {
    g.fillStyle = COLORS[st] || "#ccc";
    g.beginPath(); g.arc(x(t), y(ms), 2.5, 0, 2 * Math.PI); g.fill();
  }
  // rolling median of the last 20 answered decisions
  const answered = pts.filter((p) => p[2] !== "superseded");
  g.strokeStyle = "#9ec5ff"; g.lineWidth = 1.5; g.beginPath();
  answered.forEach((p, i) => {
    const win = answered.slice(Math.max(0, i - 19), i + 1).map((q) => q[1]).sort((a, b) => a - b);
    const med = win[Math.floor(win.length / 2)];
    if (i === 0) g.moveTo(x(p[0]), y(med)); else g.lineTo(x(p[0]), y(med));
  });
  g.stroke();
}

function connect() {
  const source = new EventSource("events");
  source.onopen = () => { $("conn").className = "conn on"; text($("conn"), "live"); };
  source.onerror = () => { $("conn").className = "conn off"; text($("conn"), "reconnecting"); };
  source.onmessage = (ev) => apply(JSON.parse(ev.data));
}

setInterval(draw, 1000); // the time axis moves even when nothing happens
connect();
