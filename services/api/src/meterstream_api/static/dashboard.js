// The meterstream dashboard: reads /api/v1 with the project's API key and draws uPlot charts.
// Each chart element carries what it drew (data-series, data-points) so a browser test can
// compare the picture with the data that was produced.
"use strict";

const $ = (selector) => document.querySelector(selector);
const COLORS = ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00"];
const charts = new Map();
let apiKey = new URLSearchParams(location.hash.slice(1)).get("key") || localStorage.getItem("meterstream-key");

async function api(path, params = {}) {
  const url = new URL(`/api/v1/${path}`, location.origin);
  for (const [name, value] of Object.entries(params)) {
    for (const item of [].concat(value)) url.searchParams.append(name, item);
  }
  const response = await fetch(url, { headers: { Authorization: `Bearer ${apiKey}` } });
  if (response.status === 401) { showLogin(); throw new Error("the API key was refused"); }
  if (!response.ok) throw new Error(`${path}: ${(await response.json()).detail}`);
  return response.json();
}

function showLogin() {
  $("#login").hidden = false;
  $("#login").onsubmit = (event) => {
    event.preventDefault();
    apiKey = $("#key").value.trim();
    localStorage.setItem("meterstream-key", apiKey);
    $("#login").hidden = true;
    refresh();
  };
}

// Series with their own timestamps → uPlot's aligned columns (null where a series has no point).
function align(seriesList) {
  const xs = [...new Set(seriesList.flatMap((s) => s.times))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const columns = seriesList.map((s) => {
    const column = new Array(xs.length).fill(null);
    s.times.forEach((t, i) => { column[index.get(t)] = s.values[i]; });
    return column;
  });
  return [xs, ...columns];
}

function draw(name, seriesList, { xIsTime = true } = {}) {
  const figure = document.querySelector(`[data-chart="${name}"]`);
  const points = seriesList.reduce((n, s) => n + s.values.filter((v) => v !== null).length, 0);
  figure.dataset.series = JSON.stringify(seriesList.map((s) => s.label));
  figure.dataset.points = String(points);
  figure.dataset.totals = JSON.stringify(
    Object.fromEntries(seriesList.map((s) => [s.label, s.values.reduce((a, v) => a + (v || 0), 0)])));
  charts.get(name)?.destroy();
  figure.querySelector(".uplot, .empty")?.remove();
  if (points === 0) {
    figure.insertAdjacentHTML("beforeend", `<div class="empty">no data in this range</div>`);
    charts.delete(name);
    return;
  }
  const options = {
    width: Math.max(figure.clientWidth - 16, 300),
    height: 240,
    // One bucket only (a single hour of cost, say): widen the axis around it.
    scales: { x: { time: xIsTime, range: (u, lo, hi) => (lo === hi ? [lo - 1800, hi + 1800] : [lo, hi]) } },
    series: [{}, ...seriesList.map((s, i) => ({
      label: s.label, stroke: s.color || COLORS[i % COLORS.length], width: s.width || 1.5,
      spanGaps: true, points: { show: s.values.length < 4, size: 8 },
    }))],
  };
  charts.set(name, new uPlot(options, align(seriesList), figure));
}

function byGroup(result, prefix = "") {
  return result.series.map((s) => ({
    label: prefix + (s.group.model || s.group[Object.keys(s.group)[0]] || "all"),
    times: s.times, values: s.values,
  }));
}

function table(element, columns, rows, rowClass = () => "") {
  element.innerHTML = `<tr>${columns.map((c) => `<th>${c}</th>`).join("")}</tr>` + rows.map((row) =>
    `<tr class="${rowClass(row)}">${columns.map((c) => `<td>${format(row[c])}</td>`).join("")}</tr>`).join("");
}

function format(value) {
  if (typeof value === "number") return Number.isInteger(value) ? value : value.toPrecision(4);
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value).replace(/</g, "&lt;");
}

async function inference(last, percentile) {
  const common = { last, group_by: "model" };
  const [latency, ttft, errors, tokens, calls, costs, unpriced] = await Promise.all([
    api("series", { ...common, metric: "system:latency_ms", agg: percentile }),
    api("series", { ...common, metric: "system:ttft_ms", agg: percentile }),
    api("series", { ...common, metric: "system:error", agg: "mean" }),
    api("series", { ...common, metric: "system:output_tokens", agg: "rate" }),
    api("series", { last, metric: "system:calls", agg: "count" }),
    api("costs", { last, by: "model", per: "hour" }),
    api("costs/unpriced", { last }),
  ]);
  draw("latency", byGroup(latency, `${percentile} `));
  draw("ttft", byGroup(ttft, `${percentile} `));
  draw("errors", byGroup(errors));
  draw("tokens", byGroup(tokens));
  const costByModel = new Map();
  for (const row of costs) {
    const entry = costByModel.get(row.model) || { label: row.model, times: [], values: [] };
    entry.times.push(Date.parse(row.period.replace(" ", "T") + "Z") / 1000);
    entry.values.push(row.cost_usd);
    costByModel.set(row.model, entry);
  }
  draw("cost", [...costByModel.values()]);
  const total = calls.series.reduce((n, s) => n + s.values.reduce((a, v) => a + (v || 0), 0), 0);
  const cost = costs.reduce((a, row) => a + row.cost_usd, 0);
  table($("#unpriced"), ["provider", "model", "cost_kind", "calls", "reported_cost_usd", "last_seen"], unpriced);
  const unpricedCalls = unpriced.reduce((n, row) => n + row.calls, 0);
  $("#tiles").innerHTML = [
    ["calls", total], ["cost (USD)", cost.toFixed(4)], ["unpriced calls", unpricedCalls],
    ["models", latency.series.length],
    ["source", latency.source],
  ].map(([name, value]) => `<div class="tile" data-tile="${name}">${name}<b>${value}</b></div>`).join("");
}

async function feedback(last) {
  const select = $("#feedback-key");
  const metrics = (await api("metrics")).filter((m) => m.category !== "system" && m.category !== "instrument");
  const chosen = select.value;
  select.innerHTML = metrics.map((m) => `<option value="${m.name}" data-metric="${m.metric}">${m.metric}</option>`).join("");
  if (chosen) select.value = chosen;
  const option = select.selectedOptions[0];
  if (!option) { draw("feedback", []); return; }
  const [series, board] = await Promise.all([
    api("series", { last, metric: option.dataset.metric, agg: "mean" }),
    api(`feedback/${encodeURIComponent(option.value)}/leaderboard`, { last }),
  ]);
  draw("feedback", byGroup(series, `${option.dataset.metric} `));
  table($("#leaderboard"), ["rank", "model", "mean", "count"], board.models);
  $("#leaderboard").dataset.scoring = board.scoring;
}

async function training() {
  const runs = (await api("runs", { limit: 20 })).runs;
  const ticked = new Set([...document.querySelectorAll("#runs input:checked")].map((i) => i.value));
  if (!ticked.size && runs.length) ticked.add(runs[0].run_id);
  $("#runs").innerHTML = "<tr><th></th><th>run</th><th>name</th><th>steps</th><th>status</th></tr>" +
    runs.map((r) => `<tr><td><input type="checkbox" value="${format(r.run_id)}" ${ticked.has(r.run_id) ? "checked" : ""}></td>
      <td>${format(r.run_id)}</td><td>${format(r.name)}</td><td>${format(r.steps)}</td><td>${format(r.status)}</td></tr>`).join("");
  document.querySelectorAll("#runs input").forEach((input) => { input.onchange = training; });
  const chosen = [...ticked].filter((id) => runs.some((r) => r.run_id === id));
  if (!chosen.length) { draw("training", [], { xIsTime: false }); return; }
  const keySelect = $("#history-key");
  const keys = await api(`runs/${encodeURIComponent(chosen[0])}/keys`);
  const previous = keySelect.value;
  keySelect.innerHTML = keys.map((k) => `<option>${format(k)}</option>`).join("");
  keySelect.value = keys.includes(previous) ? previous : (keys.find((k) => k.includes("reward")) || keys[0]);
  const smoothing = { key: keySelect.value, smoothing: $("#smoothing").value, amount: $("#amount").value, max_points: 1000 };
  const answer = chosen.length > 1
    ? await api("runs/compare", { ...smoothing, run_id: chosen })
    : { runs: [{ run_id: chosen[0], ...(await api(`runs/${encodeURIComponent(chosen[0])}/history`, smoothing)) }], config_diff: [] };
  const lines = [];
  answer.runs.forEach((run, i) => {
    const curve = run.curves[keySelect.value];
    const color = COLORS[i % COLORS.length];
    lines.push({ label: `${run.run_id} raw`, times: curve.steps, values: curve.values, color: color + "55", width: 1 });
    lines.push({ label: `${run.run_id} ${answer.runs[0].smoothing}`, times: curve.steps, values: curve.smoothed, color, width: 2 });
  });
  draw("training", lines, { xIsTime: false });
  const diff = answer.config_diff.map((row) => ({ argument: row.argument, ...row.values, differs: row.differs }));
  table($("#config-diff"), ["argument", ...chosen], diff, (row) => (row.differs ? "differs" : ""));
}

async function alerts() {
  table($("#alerts"), ["time", "rule_id", "state", "severity", "labels", "value", "summary"], await api("alerts", { limit: 20 }));
}

async function refresh() {
  if (!apiKey) { showLogin(); return; }
  const last = $("#range").value;
  try {
    await Promise.all([inference(last, $("#percentile").value), feedback(last), training(), alerts()]);
    $("#status").textContent = `updated ${new Date().toLocaleTimeString()}`;
    $("#status").className = "";
    document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
  } catch (error) {
    $("#status").textContent = error.message;
    $("#status").className = "error";
  }
}

$("#smoothing").addEventListener("change", () => {
  $("#amount").value = { none: 0, ema: 0.6, sma: 10, gaussian: 5 }[$("#smoothing").value];
});
for (const id of ["#range", "#percentile", "#feedback-key", "#history-key", "#smoothing", "#amount"]) {
  $(id).addEventListener("change", refresh);
}
setInterval(() => { if ($("#live").checked && !document.hidden) refresh(); }, 5000);
refresh();
