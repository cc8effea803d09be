// The meterstream dashboard: every panel reads /api/v1 for the same time range and model
// filter (kept in the URL), and the page refreshes itself while "live" is ticked.
import { api, apiUrl, KEY_REFUSED, hasKey, setKey } from "./js/api.js";
import { colorOf, draw, resizeAll, setModels } from "./js/charts.js";
import { cell, formatValue } from "./js/format.js";
import { bucketSeconds, isoTime, readState, state, timeRange, writeState } from "./js/state.js";

const $ = (selector) => document.querySelector(selector);
const HOURLY_COSTS_MAX_S = 7 * 86400;  // costs per minute up to an hour, per hour up to 7 days, then per day
const ERROR_TYPES_MAX_S = 86400;  // error types live in the raw rows only: read up to a day
const LIVE_EVERY_MS = 5000;

function table(element, columns, rows, rowClass = () => "") {
  const head = `<tr>${columns.map(([, title]) => `<th>${title}</th>`).join("")}</tr>`;
  const body = rows.map((row) => `<tr class="${rowClass(row)}">${columns.map(([name, , unit]) =>
    `<td>${unit ? formatValue(unit, row[name]) : cell(row[name])}</td>`).join("")}</tr>`).join("");
  element.innerHTML = head + (body || `<tr><td class="none" colspan="${columns.length}">none in this range</td></tr>`);
}

function select(element, options, chosen) {
  element.innerHTML = options.map(([value, text]) => `<option value="${cell(value)}">${cell(text)}</option>`).join("");
  if (options.some(([value]) => value === chosen)) element.value = chosen;
  return element.value;
}

// One metric's series for the range, filtered to the chosen model unless `everyModel`.
async function series(range, metric, agg, { groupBy, everyModel = false } = {}) {
  const params = { metric, agg, group_by: groupBy, interval: range.interval, ...range.params };
  if (state.model && !everyModel) params.filter = `model=${state.model}`;
  const answer = await api("series", params);
  answer.url = apiUrl("series", params).toString();
  return answer;
}

const byGroup = (answer, name) => answer.series.map((s) => ({ label: s.group[name] || "all", times: s.times, values: s.values }));
const total = (answer) => answer.series.reduce((n, s) => n + s.values.reduce((a, v) => a + (v || 0), 0), 0);
const ofModel = (rows) => rows.filter((row) => !state.model || row.model === state.model);

async function inference(range) {
  const span = range.hi - range.lo;
  const costParams = { by: "model", per: span <= 3600 ? "minute" : span <= HOURLY_COSTS_MAX_S ? "hour" : "day", ...range.params };
  const errorsBy = span <= ERROR_TYPES_MAX_S ? "error_type" : "model";
  const [models, latency, ttft, calls, errors, tokensIn, tokensOut, tokensCached, outPerModel, costs, unpriced] = await Promise.all([
    series(range, "system:calls", "count", { groupBy: "model", everyModel: true }),
    series(range, "system:latency_ms", state.pct, { groupBy: "model" }),
    series(range, "system:ttft_ms", state.pct, { groupBy: "model" }),
    state.model ? series(range, "system:calls", "count", { groupBy: "model" }) : null,
    series(range, "system:error", errorsBy === "error_type" ? "sum" : "mean", { groupBy: errorsBy }),
    series(range, "system:input_tokens", "rate"),
    series(range, "system:output_tokens", "rate"),
    series(range, "system:cached_tokens", "rate"),
    series(range, "system:output_tokens", "rate", { groupBy: "model" }),
    api("costs", costParams),
    api("costs/unpriced", range.params),
  ]);
  const names = models.series.map((s) => s.group.model);
  const counts = calls || models;  // calls per bucket per model, of the chosen model when one is
  const perSecond = counts.series.map((s) => ({ label: s.group.model, times: s.times, values: s.values.map((v) => (v === null ? null : v / counts.interval_s)) }));
  const perBucket = new Map();
  for (const s of counts.series) s.times.forEach((t, i) => perBucket.set(t, (perBucket.get(t) || 0) + (s.values[i] || 0)));
  setModels(names);
  state.model = select($("#model"), [["", "all models"], ...names.map((n) => [n, n])], state.model);
  $("#pct-caption").textContent = state.pct;
  $("#ttft-caption").textContent = state.pct;
  const chart = (name, list, unit, source, extra = {}) => draw(name, list, { unit, range: [range.lo, range.hi], source, ...extra });
  chart("latency", byGroup(latency, "model"), "ms", latency.url);
  chart("ttft", byGroup(ttft, "model"), "ms", ttft.url);
  chart("calls", perSecond, "perSecond", counts.url);
  if (errorsBy === "error_type") {
    // Failed calls of each type per call made, per bucket.
    // The calls that did not fail sit in the "" group with 0; failed calls without a type too.
    const rates = errors.series.filter((s) => s.values.some((v) => v)).map((s) => ({
      label: s.group.error_type || "(no type)", times: s.times, values: s.values.map((v, i) => (perBucket.get(s.times[i]) ? v / perBucket.get(s.times[i]) : null)),
    }));
    chart("errors", rates, "percent", [errors.url, counts.url]);
    $("#errors-caption").textContent = "error rate by error type";
  } else {
    chart("errors", byGroup(errors, "model"), "percent", errors.url);
    $("#errors-caption").textContent = "error rate per model (by error type for ranges up to a day)";
  }
  chart("tokens", [
    { label: "input", times: tokensIn.series[0]?.times || [], values: tokensIn.series[0]?.values || [] },
    { label: "output", times: tokensOut.series[0]?.times || [], values: tokensOut.series[0]?.values || [] },
    { label: "cached", times: tokensCached.series[0]?.times || [], values: tokensCached.series[0]?.values || [] },
  ], "tokensPerSecond", [tokensIn.url, tokensOut.url, tokensCached.url]);
  chart("throughput", byGroup(outPerModel, "model"), "tokensPerSecond", outPerModel.url);
  const costByModel = new Map();
  for (const row of ofModel(costs)) {
    const entry = costByModel.get(row.model) || { label: row.model, times: [], values: [] };
    entry.times.push(Date.parse(`${row.period}Z`) / 1000);
    entry.values.push(row.cost_usd);
    costByModel.set(row.model, entry);
  }
  chart("cost", [...costByModel.values()], "usd", apiUrl("costs", costParams).toString(), { stacked: true, bars: true });
  const unpricedRows = ofModel(unpriced);
  table($("#unpriced"), [["provider", "provider"], ["model", "model"], ["cost_kind", "cost kind"], ["calls", "calls"], ["last_seen", "last seen"]], unpricedRows);
  const callsMade = total(counts);
  // Failed calls: summed by type, or each model's error rate times its calls per bucket.
  const callsOf = new Map(counts.series.map((s) => [s.group.model, new Map(s.times.map((t, i) => [t, s.values[i] || 0]))]));
  const failed = errorsBy === "error_type"
    ? total(errors)
    : errors.series.reduce((n, s) => n + s.values.reduce((a, v, i) => a + (v || 0) * (callsOf.get(s.group.model)?.get(s.times[i]) || 0), 0), 0);
  const tiles = [
    ["calls", formatValue("count", callsMade)],
    ["error rate", formatValue("percent", callsMade ? failed / callsMade : 0)],
    ["cost", formatValue("usd", ofModel(costs).reduce((a, row) => a + row.cost_usd, 0))],
    ["unpriced calls", formatValue("count", unpricedRows.reduce((n, row) => n + row.calls, 0))],
    ...[["input tokens", tokensIn], ["output tokens", tokensOut], ["cached tokens", tokensCached]].map(
      ([name, answer]) => [name, formatValue("count", total(answer) * answer.interval_s)]),
    ["models", String(names.length)],
  ];
  $("#tiles").innerHTML = tiles.map(([name, value]) => `<div class="tile" data-tile="${name}">${name}<b>${value}</b></div>`).join("");
}

async function feedback(range) {
  const [known, keys] = await Promise.all([api("metrics", {}, "lists"), api("preferences", range.params, "lists")]);
  const metrics = known.filter((m) => ["grader", "user", "custom"].includes(m.category));
  state.fkey = select($("#feedback-key"), metrics.map((m) => [m.metric, m.metric]), state.fkey);
  state.pkey = select($("#preference-key"), keys.map((k) => [k.key, `${k.key} (${k.comparisons})`]), state.pkey);
  const [values, board, wins] = await Promise.all([
    state.fkey ? series(range, state.fkey, "mean") : null,
    state.fkey ? api(`feedback/${encodeURIComponent(state.fkey.split(":").slice(1).join(":"))}/leaderboard`, range.params) : null,
    state.pkey ? api(`preferences/${encodeURIComponent(state.pkey)}/win-rates`, range.params) : null,
  ]);
  const meanOf = values ? values.series.map((s) => ({ label: state.fkey, times: s.times, values: s.values })) : [];
  draw("feedback", meanOf, { unit: "score", range: [range.lo, range.hi], source: values?.url });
  table($("#leaderboard"), [["rank", "rank"], ["model", "model"], ["mean", "mean", "score"], ["count", "values"]], board ? ofModel(board.models) : []);
  table($("#win-rates"), [["model", "model"], ["comparisons", "comparisons"], ["wins", "wins"], ["win_rate", "win rate", "percent"]], wins ? ofModel(wins.models) : []);
}

async function training() {
  const runs = (await api("runs", { limit: 20 }, "lists")).runs;
  const ticked = new Set(state.runs ? state.runs.split(",") : []);
  const chosen = runs.filter((r) => ticked.has(r.run_id)).map((r) => r.run_id);
  if (!chosen.length && runs.length) chosen.push(runs[0].run_id);
  $("#runs").innerHTML = "<tr><th></th><th>run</th><th>name</th><th>steps</th><th>status</th></tr>" +
    runs.map((r) => `<tr><td><input type="checkbox" value="${cell(r.run_id)}" ${chosen.includes(r.run_id) ? "checked" : ""}></td>
      <td>${cell(r.run_id)}</td><td>${cell(r.name)}</td><td>${cell(r.steps)}</td><td>${cell(r.status)}</td></tr>`).join("");
  document.querySelectorAll("#runs input").forEach((input) => {
    input.onchange = () => {
      state.runs = [...document.querySelectorAll("#runs input:checked")].map((i) => i.value).join(",");
      refresh();
    };
  });
  if (!chosen.length) {
    draw("training", [], { xIsTime: false });
    table($("#config-diff"), [["argument", "argument"]], []);
    return;
  }
  const keys = await api(`runs/${encodeURIComponent(chosen[0])}/keys`, {}, "lists");
  const fallback = keys.find((k) => k.includes("reward")) || keys[0] || "";
  state.hkey = select($("#history-key"), keys.map((k) => [k, k]), keys.includes(state.hkey) ? state.hkey : fallback);
  if (!state.hkey) { draw("training", [], { xIsTime: false }); return; }
  const smoothing = { key: state.hkey, smoothing: state.smoothing, amount: state.amount, max_points: 1000 };
  const path = chosen.length > 1 ? "runs/compare" : `runs/${encodeURIComponent(chosen[0])}/history`;
  const params = chosen.length > 1 ? { ...smoothing, run_id: chosen } : smoothing;
  const fetched = await api(path, params);
  const answer = chosen.length > 1 ? fetched : { runs: [{ run_id: chosen[0], ...fetched }], config_diff: [] };
  const lines = [];
  answer.runs.forEach((run, i) => {
    const curve = run.curves[state.hkey] || { steps: [], values: [], smoothed: [] };
    const color = colorOf(run.run_id, i);
    lines.push({ label: `${run.run_id} raw`, times: curve.steps, values: curve.values, color: `${color}55`, width: 1 });
    if (state.smoothing !== "none") {
      lines.push({ label: `${run.run_id} ${state.smoothing}`, times: curve.steps, values: curve.smoothed, color, width: 2 });
    }
  });
  draw("training", lines, { xIsTime: false, unit: "number", source: apiUrl(path, params).toString() });
  const diff = answer.config_diff.map((row) => ({ argument: row.argument, ...row.values, differs: row.differs }));
  table($("#config-diff"), [["argument", "argument"], ...chosen.map((id) => [id, id])], diff, (row) => (row.differs ? "differs" : ""));
}

// An alert's group without the project (every row here is the project's): "model=gpt-4o".
const groupText = (labels) => Object.entries(labels || {}).filter(([k, v]) => k !== "project" && v !== "").map(([k, v]) => `${k}=${v}`).join(" ") || "project";

async function alerts() {
  // With a model chosen: that model's alerts and those of no model (project-wide rules).
  const history = (await api("alerts", { limit: 100 }, "lists"))
    .filter((row) => !state.model || !row.labels?.model || row.labels.model === state.model);
  const current = new Map();
  for (const row of history) {
    const id = `${row.rule_id} ${JSON.stringify(row.labels)}`;
    if (!current.has(id)) current.set(id, row);  // newest first: the first is the state now
  }
  const shown = (row) => ({ ...row, group: groupText(row.labels) });
  const columns = [["rule_id", "rule"], ["group", "group"], ["state", "state"], ["time", "since"], ["value", "value", "number"], ["summary", "summary"]];
  table($("#alert-states"), columns, [...current.values()].map(shown), (row) => row.state);
  table($("#alerts"), [["time", "time"], ["rule_id", "rule"], ["state", "state"], ["severity", "severity"], ["group", "group"]], history.slice(0, 12).map(shown), (row) => row.state);
}

async function health(range) {
  const answer = await api("health", range.params);
  const lag = answer.lag.groups
    ? Object.entries(answer.lag.groups).map(([group, n]) => `<span class="lag" data-group="${cell(group)}">${cell(group)} <b>${formatValue("count", n)}</b></span>`).join(" ")
    : `<span class="warn">${cell(answer.lag.error)}</span>`;
  const fresh = answer.freshness;
  const last = answer.last_alert;
  $("#health").innerHTML = [
    `<div data-health="lag">consumer lag ${lag || "no consumer groups"}</div>`,
    `<div data-health="freshness">freshness (last ${fresh.window_s / 60} min) p50 <b>${formatValue("ms", fresh.p50_ms)}</b> p99 <b>${formatValue("ms", fresh.p99_ms)}</b></div>`,
    `<div data-health="dead-letters">dead letters in range <b>${formatValue("count", answer.dead_letters)}</b></div>`,
    `<div data-health="last-alert">last alert <b>${last ? `${cell(last.rule_id)} ${cell(last.state)} at ${cell(last.time)}` : "none"}</b></div>`,
  ].join("");
}

let running = null;
let firstRender = null;

async function refresh() {
  if (!hasKey()) { showLogin(); return; }
  if (running) return running;
  const [lo, hi] = timeRange();
  const range = { lo, hi, interval: bucketSeconds(hi - lo), params: { start: isoTime(lo), end: isoTime(hi) } };
  writeState();
  const panels = { inference: inference(range), feedback: feedback(range), training: training(), alerts: alerts(), health: health(range) };
  running = (async () => {
    const problems = [];
    for (const [name, panel] of Object.entries(panels)) {
      try { await panel; } catch (error) {
        if (error.message === KEY_REFUSED) showLogin();
        problems.push(`${name}: ${error.message}`);
      }
    }
    $("#status").textContent = problems.length ? problems.join("; ") : `updated ${new Date().toLocaleTimeString("en-GB")}`;
    $("#status").className = problems.length ? "error" : "";
    if (firstRender === null) {
      firstRender = performance.now();
      document.body.dataset.firstRenderMs = String(Math.round(firstRender));
    }
    document.body.dataset.range = JSON.stringify([lo, hi]);
    document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
  })();
  try { await running; } finally { running = null; }
}

function showLogin() {
  $("#login").hidden = false;
  $("#login").onsubmit = (event) => {
    event.preventDefault();
    setKey($("#key").value.trim());
    $("#login").hidden = true;
    refresh();
  };
}

function bind(id, name, after = () => {}) {
  const element = $(id);
  element.value = state[name];
  element.addEventListener("change", () => { state[name] = element.value; after(); refresh(); });
}

readState();
bind("#range", "range");
bind("#model", "model");
bind("#pct", "pct");
bind("#feedback-key", "fkey");
bind("#preference-key", "pkey");
bind("#history-key", "hkey");
bind("#smoothing", "smoothing", () => {
  state.amount = String({ none: 0, ema: 0.6, sma: 10, gaussian: 5 }[state.smoothing]);
  $("#amount").value = state.amount;
});
bind("#amount", "amount");
// A pinned view (`end` in the URL) stays as it is; following now makes it live again.
function showPinned() {
  const pinned = Boolean(state.end);
  $("#pinned").hidden = !pinned;
  $("#pin").hidden = pinned;
  $("#live").disabled = pinned;
  if (pinned) {
    $("#live").checked = false;
    $("#pinned-end").textContent = `${isoTime(Number(state.end)).replace("T", " ").slice(0, 19)} UTC`;
  }
}
$("#pin").addEventListener("click", () => { state.end = String(Math.floor(Date.now() / 1000)); showPinned(); refresh(); });
$("#unpin").addEventListener("click", () => { state.end = ""; showPinned(); $("#live").checked = true; refresh(); });
$("#live").addEventListener("change", () => { if ($("#live").checked) refresh(); });
showPinned();
window.addEventListener("resize", resizeAll);
setInterval(() => { if ($("#live").checked && !document.hidden) refresh(); }, LIVE_EVERY_MS);
refresh();
