// distillguard dashboard: plain JS, no build step, talks only to /admin/*.
// Every value from the server is put in the page with textContent (never as
// HTML): records carry client-controlled text (prompts, user agents).
"use strict";

const TOKEN_KEY = "dg_admin_token";
const REFRESH_MS = 10000;
let refreshTimer = null;
let thresholds = { suspicious: 0.5, attack: 0.85 };

// ---------------------------------------------------------------- helpers

function h(tag, attrs, ...children) {
  const el = tag === "svg" || attrs?.svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "svg" || v === undefined || v === null || v === false) continue;
    if (k === "class") el.setAttribute("class", v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const s = (tag, attrs, ...c) => h(tag, { ...(attrs || {}), svg: true }, ...c);
const $ = (id) => document.getElementById(id);

function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
function ago(iso) {
  if (!iso) return "never";
  const sec = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (sec < 60) return `${Math.max(sec, 0)}s ago`;
  if (sec < 3600) return `${Math.round(sec / 60)}m ago`;
  if (sec < 86400) return `${Math.round(sec / 3600)}h ago`;
  return `${Math.round(sec / 86400)}d ago`;
}
function num(n) { return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US"); }

function riskClass(r) {
  if (r === null || r === undefined) return "";
  if (r >= thresholds.attack) return "bad";
  if (r >= thresholds.suspicious) return "warn";
  return "ok";
}
function riskCell(r) {
  if (r === null || r === undefined) return h("span", { class: "muted" }, "—");
  const fill = h("i");
  fill.style.width = `${Math.round(Math.min(1, Math.max(0, r)) * 100)}%`;
  fill.style.background = `var(--${riskClass(r) || "ok"})`;
  return h("div", { class: "risk", title: `risk ${r.toFixed(3)}` }, h("div", { class: "bar" }, fill), h("span", { class: "v" }, r.toFixed(2)));
}
function verdictBadge(v) {
  if (!v) return h("span", { class: "muted" }, "—");
  return h("span", { class: `badge ${v === "attack" ? "bad" : v === "suspicious" ? "warn" : "ok"}` }, v);
}
function actionBadge(a) {
  if (!a) return h("span", { class: "muted" }, "—");
  const cls = a === "allow" ? "ok" : a === "block" ? "bad" : "warn";
  return h("span", { class: `badge ${cls}` }, a);
}
// The record's action, or "refused" when the gateway answered the request
// itself (401/403/429/...) while the policy's action stayed allow.
function outcomeBadge(action, code) {
  if (action === "allow" && code) {
    const b = h("span", { class: "badge warn", title: `action allow; refused with ${code}` }, "refused");
    return b;
  }
  return actionBadge(action);
}
function statusBadge(st) {
  if (st === null || st === undefined || st === 0) return h("span", { class: "muted" }, "—");
  return h("span", { class: `badge ${st >= 500 ? "bad" : st >= 400 ? "warn" : "ok"}` }, String(st));
}
function table(headers, rows, emptyText) {
  const head = h("thead", null, h("tr", null, headers.map(([label, cls]) => h("th", { class: cls }, label))));
  const body = h("tbody", null, rows);
  const t = h("table", null, head, body);
  if (!rows.length) return h("div", null, t, h("div", { class: "empty" }, emptyText));
  return t;
}

// ---------------------------------------------------------------- API

class AuthError extends Error {}

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, ...(options.headers || {}) },
    cache: "no-store",
  });
  let body = null;
  try { body = await res.json(); } catch { body = null; }
  if (res.status === 401) throw new AuthError(body?.error?.message || "unauthorized");
  if (!res.ok) throw new Error(body?.error?.message || `${res.status} ${res.statusText}`);
  return body;
}

function showBanner(text, bad) {
  const b = $("banner");
  if (!text) { b.hidden = true; return; }
  b.textContent = text;
  b.className = bad ? "banner bad" : "banner";
  b.hidden = false;
}

function noteEngine(engine) {
  if (!engine) return;
  if (engine.thresholds) thresholds = engine.thresholds;
  $("engine-status").textContent =
    `engine replica: ${num(engine.accounts_tracked)} accounts · audit seq ${num(engine.synced_seq)} of ${num(engine.last_seq)}` +
    (engine.catching_up ? " (catching up…)" : "") + ` · thresholds suspicious ${thresholds.suspicious}, attack ${thresholds.attack}`;
}

// ---------------------------------------------------------------- views

async function setDisabled(id, disable, button) {
  if (disable && !confirm(`Disable account "${id}"? Its keys will get 403 account_disabled.`)) return false;
  button.disabled = true;
  try {
    await api(`/admin/accounts/${encodeURIComponent(id)}/${disable ? "disable" : "enable"}`, { method: "POST" });
    return true;
  } catch (e) {
    if (e instanceof AuthError) return logout("Session expired: sign in again.");
    showBanner(`Could not ${disable ? "disable" : "enable"} ${id}: ${e.message}`, true);
    button.disabled = false;
    return false;
  }
}

function toggleButton(a, after) {
  const b = h("button", {
    class: `small toggle ${a.disabled ? "safe" : "danger"}`,
    "data-account": a.id,
    text: a.disabled ? "Enable" : "Disable",
  });
  b.addEventListener("click", async (ev) => {
    ev.preventDefault();
    if (await setDisabled(a.id, !a.disabled, b)) after();
  });
  return b;
}

let accountsFilter = "";

async function viewAccounts(root) {
  const data = await api(`/admin/accounts?limit=1000${accountsFilter ? `&q=${encodeURIComponent(accountsFilter)}` : ""}`);
  noteEngine(data.engine);
  const accts = data.accounts;
  const count = (f) => accts.filter(f).length;
  const stats = h("div", { class: "stats" },
    stat(num(data.total), "accounts"),
    stat(num(count((a) => a.disabled)), "disabled"),
    stat(num(count((a) => a.verdict === "suspicious")), "suspicious"),
    stat(num(count((a) => a.verdict === "attack")), "attack"),
    stat(num(accts.reduce((t, a) => t + a.requests, 0)), "exchanges"),
    stat(num(count((a) => a.last_action && a.last_action !== "allow")), "under countermeasures"));

  const filter = h("input", { type: "search", placeholder: "filter accounts…", value: accountsFilter, "aria-label": "filter accounts" });
  filter.addEventListener("change", () => { accountsFilter = filter.value.trim(); render(); });

  const rows = accts.map((a) => h("tr", { "data-account": a.id },
    h("td", null, h("a", { href: `#/account/${encodeURIComponent(a.id)}`, class: "mono" }, a.id)),
    h("td", null, a.tier ?? "—"),
    h("td", null, a.disabled ? h("span", { class: "badge bad" }, "disabled") : h("span", { class: "badge ok" }, "active")),
    h("td", { class: "num" }, num(a.requests)),
    h("td", { class: "num" }, num(a.refusals)),
    h("td", null, outcomeBadge(a.last_action, a.last_code), a.last_code ? h("span", { class: "muted mono" }, ` ${a.last_code}`) : null),
    h("td", { title: fmtTime(a.last_seen) }, ago(a.last_seen)),
    h("td", null, riskCell(a.risk)),
    h("td", null, verdictBadge(a.verdict)),
    h("td", { class: "mono" }, a.cluster ?? "—"),
    h("td", null, toggleButton(a, render))));

  root.replaceChildren(stats, h("div", { class: "card" },
    h("div", { class: "toolbar" }, h("h2", null, "Accounts ", h("span", { class: "muted" }, "by risk")), filter,
      accts.length < data.total ? h("span", { class: "muted" }, `showing the ${accts.length} riskiest of ${num(data.total)}`) : null),
    table([["Account"], ["Tier"], ["Status"], ["Requests", "num"], ["Refusals", "num"], ["Last action"], ["Last seen"], ["Risk"], ["Verdict"], ["Cluster"], [""]],
      rows, "No accounts yet. Create one with: distillguard accounts create NAME")));
}

function stat(n, label) { return h("div", { class: "stat" }, h("div", { class: "n" }, n), h("div", { class: "l" }, label)); }

function decisionsTable(list) {
  const rows = list.map((d) => h("tr", null,
    h("td", { class: "mono", title: d.ts }, fmtTime(d.ts)),
    h("td", null, d.account === "-" ? h("span", { class: "muted" }, "(no account)") : h("a", { href: `#/account/${encodeURIComponent(d.account)}`, class: "mono" }, d.account)),
    h("td", null, outcomeBadge(d.action, d.code), d.shadow ? h("span", { class: "badge" }, "shadow") : null),
    h("td", null, statusBadge(d.status)),
    h("td", { class: "mono" }, d.code ?? ""),
    h("td", { class: "num" }, d.live_risk === null ? "—" : d.live_risk.toFixed(2)),
    h("td", { class: "reason" }, d.reason || "")));
  return table([["Time"], ["Account"], ["Action"], ["Status"], ["Code"], ["Risk", "num"], ["Reason"]], rows,
    "No decisions yet: every exchange so far was allowed and answered.");
}

async function viewDecisions(root) {
  const data = await api("/admin/decisions?limit=200");
  noteEngine(data.engine);
  root.replaceChildren(h("div", { class: "card" },
    h("h2", null, "Decisions ", h("span", { class: "muted" }, "— non-allow actions and local replies, newest first")),
    decisionsTable(data.decisions)));
}

async function viewClusters(root) {
  const data = await api("/admin/clusters");
  noteEngine(data.engine);
  const rows = data.clusters.map((c) => h("tr", null,
    h("td", { class: "mono" }, c.id),
    h("td", { class: "num" }, num(c.size)),
    h("td", null, riskCell(c.risk)),
    h("td", null, verdictBadge(c.verdict)),
    h("td", null, h("div", { class: "chips" }, Object.entries(c.links).map(([k, n]) => h("span", { class: "chip" }, `${k} ${n}`)))),
    h("td", null, h("div", { class: "chips" }, c.accounts.map((a) => h("a", { class: "chip mono", href: `#/account/${encodeURIComponent(a)}` }, a)))),
    h("td", { class: "reason" }, c.reasons.slice(0, 3).map((r) => r.detail || r.signal).join("; "))));
  root.replaceChildren(h("div", { class: "card" },
    h("h2", null, "Clusters ", h("span", { class: "muted" }, `— ${data.note}`)),
    table([["Cluster"], ["Accounts", "num"], ["Risk"], ["Verdict"], ["Links"], ["Members"], ["Why"]], rows,
      "No clusters: no accounts are linked by shared templates, infrastructure or timing.")));
}

// Inline SVG line chart of risk over time, with the verdict thresholds.
function riskChart(points) {
  const W = 760, H = 220, L = 40, R = 12, T = 12, B = 28;
  if (!points.length) return h("div", { class: "empty" }, "No risk history yet (no exchanges seen by the engine).");
  const ts = points.map((p) => new Date(p.ts).getTime());
  let t0 = Math.min(...ts), t1 = Math.max(...ts);
  if (t1 === t0) { t0 -= 30000; t1 += 30000; }
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (r) => T + (1 - r) * (H - T - B);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "risk over time" });
  for (const g of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(s("line", { class: "grid", x1: L, x2: W - R, y1: y(g), y2: y(g) }));
    svg.append(s("text", { x: L - 6, y: y(g) + 4, "text-anchor": "end" }, g.toFixed(2)));
  }
  svg.append(s("line", { class: "th-s", x1: L, x2: W - R, y1: y(thresholds.suspicious), y2: y(thresholds.suspicious) }));
  svg.append(s("line", { class: "th-a", x1: L, x2: W - R, y1: y(thresholds.attack), y2: y(thresholds.attack) }));
  svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  const pts = points.map((p, i) => `${x(ts[i]).toFixed(1)},${y(p.risk).toFixed(1)}`);
  svg.append(s("path", { class: "area", d: `M${x(ts[0]).toFixed(1)},${y(0)} L${pts.join(" L")} L${x(ts[ts.length - 1]).toFixed(1)},${y(0)} Z` }));
  svg.append(s("polyline", { class: "line", points: pts.join(" ") }));
  points.forEach((p, i) => {
    const c = s("circle", { cx: x(ts[i]), cy: y(p.risk), r: 3, fill: `var(--${riskClass(p.risk)})` });
    c.append(s("title", null, `${fmtTime(p.ts)} risk ${p.risk.toFixed(3)}`));
    svg.append(c);
  });
  svg.append(s("text", { x: L, y: H - 8 }, fmtTime(new Date(t0).toISOString())));
  svg.append(s("text", { x: W - R, y: H - 8, "text-anchor": "end" }, fmtTime(new Date(t1).toISOString())));
  return h("div", { class: "chart" }, svg);
}

async function viewAccount(root, id) {
  const [data, dec] = await Promise.all([
    api(`/admin/accounts/${encodeURIComponent(id)}`),
    api(`/admin/decisions?limit=50&account=${encodeURIComponent(id)}`),
  ]);
  noteEngine(data.engine);
  const a = data.account;
  const info = h("dl", { class: "kv" },
    h("dt", null, "Tier"), h("dd", null, a.tier ?? "—"),
    h("dt", null, "Created"), h("dd", null, fmtTime(a.created)),
    h("dt", null, "Status"), h("dd", null, a.disabled ? h("span", { class: "badge bad" }, "disabled") : h("span", { class: "badge ok" }, "active")),
    h("dt", null, "Exchanges"), h("dd", null, num(a.requests)),
    h("dt", null, "Refusals"), h("dd", null, num(a.refusals)),
    h("dt", null, "Not allowed"), h("dd", null, num(a.non_allow)),
    h("dt", null, "Last seen"), h("dd", null, `${fmtTime(a.last_seen)} (${ago(a.last_seen)})`),
    h("dt", null, "Last action"), h("dd", null, actionBadge(a.last_action)),
    h("dt", null, "Risk"), h("dd", null, riskCell(a.risk)),
    h("dt", null, "Verdict"), h("dd", null, verdictBadge(a.verdict)),
    h("dt", null, "Cluster"), h("dd", { class: "mono" }, a.cluster ?? "—"),
    h("dt", null, "First flagged"), h("dd", null, data.first_flagged ? `${fmtTime(data.first_flagged.ts)} (exchange ${data.first_flagged.exchange})` : "—"));
  const reasons = data.reasons.length
    ? table([["Signal"], ["Value", "num"], ["Weight", "num"], ["Detail"]], data.reasons.map((r) => h("tr", null,
        h("td", { class: "mono" }, r.signal), h("td", { class: "num" }, r.value.toFixed(2)), h("td", { class: "num" }, r.weight.toFixed(2)), h("td", null, r.detail))), "")
    : h("div", { class: "empty" }, "No signal moved the score.");
  const caps = h("div", { class: "chips" }, Object.entries(data.capabilities).sort((p, q) => q[1] - p[1]).map(([k, n]) => h("span", { class: "chip" }, `${k} ${n}`)));
  const recent = table([["Time"], ["Endpoint"], ["Model"], ["Status"], ["Action"], ["Tokens", "num"], ["Prompt"]],
    data.recent.map((e) => h("tr", null,
      h("td", { class: "mono", title: e.ts }, fmtTime(e.ts)),
      h("td", { class: "mono" }, e.endpoint + (e.stream ? " (stream)" : "")),
      h("td", { class: "mono" }, e.model),
      h("td", null, statusBadge(e.status), e.code ? h("span", { class: "muted mono" }, ` ${e.code}`) : null),
      h("td", null, outcomeBadge(e.action, e.code)),
      h("td", { class: "num" }, e.prompt_tokens === null ? "—" : `${num(e.prompt_tokens)} → ${num(e.completion_tokens)}`),
      h("td", { class: "prompt" }, e.prompt || (e.message ?? "")))),
    "No exchanges recorded for this account.");
  root.replaceChildren(
    h("a", { class: "back", href: "#/accounts" }, "← all accounts"),
    h("div", { class: "title" }, h("h1", { class: "mono" }, a.id), verdictBadge(a.verdict), toggleButton(a, render)),
    h("div", { class: "grid2" },
      h("div", { class: "card" }, h("h2", null, "Risk over time ", h("span", { class: "muted" }, "— dashed: suspicious and attack thresholds")), riskChart(data.risk_history)),
      h("div", { class: "card" }, h("h2", null, "Account"), info)),
    h("div", { class: "grid2" },
      h("div", { class: "card" }, h("h2", null, "Why this risk"), reasons),
      h("div", { class: "card" }, h("h2", null, "What it asks"), Object.keys(data.capabilities).length ? caps : h("div", { class: "empty" }, "—"))),
    h("div", { class: "card" }, h("h2", null, "Decisions"), decisionsTable(dec.decisions)),
    h("div", { class: "card" }, h("h2", null, "Recent exchanges ", h("span", { class: "muted" }, `— last ${data.recent.length}`)), recent));
}

async function refreshChain() {
  const el = $("chain");
  try {
    const v = await api("/admin/audit/verify");
    el.textContent = v.ok ? `audit chain ✓ ${num(v.entries)} entries` : `audit chain BROKEN at #${v.first_bad_seq}`;
    el.className = `badge ${v.ok ? "ok" : "bad"}`;
    el.title = v.ok ? `head ${v.head_hash || "(empty)"}` : v.reason;
    if (!v.ok) showBanner(`The audit log's hash chain is broken at entry ${v.first_bad_seq}: ${v.reason}`, true);
  } catch (e) {
    if (e instanceof AuthError) return logout("Session expired: sign in again.");
    el.textContent = "audit: unavailable";
    el.className = "badge bad";
    el.title = e.message;
  }
  el.hidden = false;
}

// ---------------------------------------------------------------- routing

async function render() {
  clearTimeout(refreshTimer);
  const hash = location.hash || "#/accounts";
  const [, view, arg] = hash.match(/^#\/([a-z]+)(?:\/(.*))?$/) || [];
  for (const a of document.querySelectorAll("#nav a"))
    a.classList.toggle("active", a.dataset.view === view || (view === "account" && a.dataset.view === "accounts"));
  const root = $("view");
  try {
    if (view === "decisions") await viewDecisions(root);
    else if (view === "clusters") await viewClusters(root);
    else if (view === "account" && arg) await viewAccount(root, decodeURIComponent(arg));
    else await viewAccounts(root);
    if (!$("banner").classList.contains("bad")) showBanner("");
  } catch (e) {
    if (e instanceof AuthError) return logout("Session expired or token changed: sign in again.");
    showBanner(`Could not load: ${e.message}`, true);
  }
  refreshTimer = setTimeout(render, REFRESH_MS);
}

function logout(message) {
  clearTimeout(refreshTimer);
  sessionStorage.removeItem(TOKEN_KEY);
  $("app-view").hidden = true;
  $("nav").hidden = true;
  $("logout").hidden = true;
  $("chain").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message || "";
  $("token").focus();
  return false;
}

function enter() {
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  $("nav").hidden = false;
  $("logout").hidden = false;
  refreshChain();
  render();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("login").disabled = true;
    try {
      await api("/admin/accounts?limit=1");
      $("token").value = "";
      $("login-error").textContent = "";
      enter();
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      $("login-error").textContent = e instanceof AuthError ? "That token was refused." : `Cannot reach the admin API: ${e.message}`;
    } finally {
      $("login").disabled = false;
    }
  });
  $("logout").addEventListener("click", () => logout(""));
  $("chain").addEventListener("click", refreshChain);
  window.addEventListener("hashchange", render);
  if (sessionStorage.getItem(TOKEN_KEY)) enter();
  else logout("");
});
