// The copilot-api dashboard. Reads /dashboard/data from this same proxy every few
// seconds and renders it. Every value is inserted as text (textContent / text nodes),
// never as HTML, so whatever a model name or an upstream field holds shows literally.
"use strict";

const REFRESH_MS = 5000;
const KEY_STORE = "copilot-api-key";
let timer = null;

function $(id) { return document.getElementById(id); }

// An element with a class and children; strings become text nodes.
function el(tag, cls, ...children) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fmtInt(n) { return typeof n === "number" ? n.toLocaleString("en-US") : "–"; }
function fmtNum(n, digits) {
  return typeof n === "number" ? n.toLocaleString("en-US", { maximumFractionDigits: digits }) : "–";
}
function fmtMs(ms) {
  if (typeof ms !== "number") return "–";
  return ms < 1000 ? ms.toFixed(0) + " ms" : (ms / 1000).toFixed(2) + " s";
}
function levelClass(pct) { return pct > 90 ? "level-bad" : pct > 75 ? "level-warn" : "level-ok"; }
function title(key) {
  const s = String(key).replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function bar(pct, cls) {
  const fill = el("div", cls);
  fill.style.width = Math.max(0, Math.min(100, pct)) + "%";
  return el("div", "bar", fill);
}

function quotaCard(key, q) {
  const card = el("div", "card quota", el("div", "title", title(key)));
  card.dataset.quota = key;
  if (!q || typeof q !== "object") {
    card.append(el("div", "figure muted", "not reported"));
    return card;
  }
  if (q.unlimited === true) {
    card.append(el("div", "figure", "Unlimited"), bar(100, "level-info"));
    return card;
  }
  const ent = Number(q.entitlement) || 0;
  const rem = Number(q.remaining ?? q.quota_remaining) || 0;
  const used = Math.max(0, ent - rem);
  const pct = typeof q.percent_remaining === "number"
    ? 100 - q.percent_remaining : (ent > 0 ? used / ent * 100 : 0);
  card.append(
    el("div", "figure", fmtNum(used, 1) + " / " + fmtNum(ent, 1) + " used"),
    bar(pct, levelClass(pct)),
    el("div", "muted", pct.toFixed(1) + "% used, " + fmtNum(rem, 1) + " remaining"));
  if (Number(q.overage_count) > 0) card.append(el("div", "bad", fmtNum(q.overage_count, 1) + " over quota"));
  return card;
}

function limitCard(name, w) {
  const card = el("div", "card limit", el("div", "title", title(name)));
  card.dataset.limit = name;
  if (!w) {
    card.append(el("div", "figure muted", "not reported yet"));
    return card;
  }
  const used = 100 - Number(w.remaining);
  card.append(el("div", "figure", fmtNum(w.remaining, 1) + "% remaining"), bar(used, levelClass(used)));
  if (w.reset) {
    const secs = Number(w.reset);
    const when = Number.isFinite(secs) ? new Date(secs * 1000).toLocaleString() : w.reset;
    card.append(el("div", "muted", "resets " + when));
  }
  return card;
}

function cost(r) {
  const parts = [];
  if (typeof r.ai_credits === "number") parts.push(fmtNum(r.ai_credits, 4) + " credits");
  if (r.premium_requests > 0) parts.push(fmtNum(r.premium_requests, 2) + " premium");
  return parts.length ? parts.join(", ") : "–";
}

function render(d) {
  const quota = d.quota || {};
  $("plan").textContent = quota.copilot_plan ? "plan: " + quota.copilot_plan : "";
  $("reset").textContent = quota.quota_reset_date ? "Quotas reset on " + quota.quota_reset_date : "";
  $("quota-error").textContent = d.quota_error ? "Copilot usage unavailable: " + d.quota_error : "";
  const snaps = quota.quota_snapshots || {};
  $("quotas").replaceChildren(...["chat", "completions", "premium_interactions"].map(k => quotaCard(k, snaps[k])));
  const limits = d.limits || {};
  $("limits").replaceChildren(limitCard("session", limits.session), limitCard("weekly", limits.weekly));
  $("models").replaceChildren(...(d.models || []).map(m => el("tr", null,
    el("td", "model", m.model), el("td", "num", fmtInt(m.requests)),
    el("td", "num", fmtInt(m.input_tokens)), el("td", "num", fmtInt(m.output_tokens)),
    el("td", "num", fmtInt(m.cached_tokens)), el("td", "num", fmtNum(m.ai_credits, 4)),
    el("td", "num", fmtNum(m.premium_requests, 2)))));
  $("recent").replaceChildren(...(d.recent || []).map(r => {
    const model = r.model && r.model !== r.requested_model
      ? r.requested_model + " → " + r.model : r.requested_model;
    const row = el("tr", null,
      el("td", null, new Date(r.at_ms).toLocaleTimeString()), el("td", null, r.api),
      el("td", "model", model), el("td", null, r.upstream || "–"),
      el("td", r.status >= 400 ? "bad" : null, r.status),
      el("td", "num", fmtMs(r.duration_ms)), el("td", "num", fmtMs(r.ttft_ms)),
      el("td", "num", fmtInt(r.input_tokens) + " / " + fmtInt(r.output_tokens) + " / " + fmtInt(r.cached_tokens)),
      el("td", "num", cost(r)), el("td", null, r.outcome || (r.stream ? "–" : "json")));
    row.className = "request";
    return row;
  }));
  $("status").textContent = "version " + d.version + " · updated " + new Date().toLocaleTimeString();
}

function askForKey(message) {
  clearTimeout(timer);
  $("content").hidden = true;
  $("key-form").hidden = false;
  $("key-error").textContent = message || "";
  $("status").textContent = "";
  $("key").focus();
}

async function refresh() {
  const key = sessionStorage.getItem(KEY_STORE);
  const headers = key ? { "Authorization": "Bearer " + key } : {};
  try {
    const res = await fetch("/dashboard/data", { headers, cache: "no-store" });
    if (res.status === 401) {
      sessionStorage.removeItem(KEY_STORE);
      askForKey(key ? "That key was not accepted." : "");
      return;
    }
    if (!res.ok) throw new Error("HTTP " + res.status);
    render(await res.json());
    $("key-form").hidden = true;
    $("content").hidden = false;
  } catch (e) {
    $("status").textContent = "cannot reach the proxy (" + e.message + "); retrying";
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  $("key-form").addEventListener("submit", ev => {
    ev.preventDefault();
    sessionStorage.setItem(KEY_STORE, $("key").value.trim());
    $("key").value = "";
    refresh();
  });
  refresh();
});
