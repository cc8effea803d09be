// uPlot charts with the page's conventions: the x axis is the chosen time range exactly,
// y axes in the panel's unit and wide enough for their labels, one colour per model across
// the page. Every chart is registered in window.meterstream.charts with what it plotted, so
// a browser test can compare the picture with the API's answers.
import { formatValue } from "./format.js";

const PALETTE = ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00", "#b82e2e", "#316395"];
const OTHER_PALETTE = ["#555555", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f", "#e377c2"];
const models = [];
const charts = new Map();
window.meterstream = { charts: {} };

// The page's models (sorted): each keeps its colour in every chart.
export function setModels(names) {
  models.length = 0;
  models.push(...[...new Set(names)].sort());
}

export function colorOf(name, index = 0) {
  const at = models.indexOf(name);
  return at >= 0 ? PALETTE[at % PALETTE.length] : OTHER_PALETTE[index % OTHER_PALETTE.length];
}

// Series with their own times → uPlot's aligned columns (null where a series has no point).
// A bucket that began before the range (a rollup's whole first hour) is drawn at its start.
function align(seriesList, lo) {
  const at = (t) => Math.max(t, lo);
  const xs = [...new Set(seriesList.flatMap((s) => s.times.map(at)))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const columns = seriesList.map((s) => {
    const column = new Array(xs.length).fill(null);
    s.times.forEach((t, i) => { column[index.get(at(t))] = s.values[i]; });
    return column;
  });
  return [xs, ...columns];
}

function stack(columns) {
  const sums = [];
  columns.forEach((column, i) => {
    sums.push(column.map((v, j) => (i === 0 ? v || 0 : sums[i - 1][j] + (v || 0))));
  });
  return sums;
}

// The y axis as wide as its longest label (labels are measured, never clipped).
function axisSize(self, values, axisIdx, cycleNum) {
  const axis = self.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  let size = axis.ticks.size + axis.gap;
  const longest = (values || []).reduce((a, v) => (String(v).length > a.length ? String(v) : a), "");
  if (longest) {
    self.ctx.font = axis.font[0];
    size += self.ctx.measureText(longest).width / devicePixelRatio;
  }
  return Math.ceil(size) + 4;
}

function figureOf(name) {
  return document.querySelector(`[data-chart="${name}"]`);
}

// Draw `seriesList` ([{label, times, values, color?}]) in the figure named `name`.
export function draw(name, seriesList, { unit = "number", range, xIsTime = true, stacked = false, bars = false, source = null } = {}) {
  const figure = figureOf(name);
  const points = seriesList.reduce((n, s) => n + s.values.filter((v) => v !== null).length, 0);
  charts.get(name)?.destroy();
  charts.delete(name);
  figure.querySelector(".uplot, .empty")?.remove();
  const record = { unit, range, stacked, source, empty: points === 0, labels: seriesList.map((s) => s.label) };
  window.meterstream.charts[name] = record;
  figure.dataset.points = String(points);
  if (points === 0) {
    figure.insertAdjacentHTML("beforeend", `<div class="empty">no data in this range</div>`);
    return;
  }
  const lo = xIsTime ? range[0] : -Infinity;
  const [xs, ...raw] = align(seriesList, lo);
  const columns = stacked ? stack(raw) : raw;
  // Stacked: the biggest sum first, so each smaller one is painted over it.
  const order = seriesList.map((_, i) => i);
  if (stacked) order.reverse();
  const options = {
    width: Math.max(figure.clientWidth - 16, 280),
    height: 220,
    scales: {
      x: xIsTime ? { time: true, range: () => [range[0], range[1]] } : { time: false },
      y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.08 : 1] },
    },
    axes: [
      {},
      { size: axisSize, values: (u, splits) => splits.map((v) => formatValue(unit, v, splits.length > 1 ? splits[1] - splits[0] : 0)) },
    ],
    series: [{}, ...order.map((i) => {
      const s = seriesList[i];
      const color = s.color || colorOf(s.label, i);
      return {
        label: s.label,
        stroke: color,
        width: s.width || 1.5,
        fill: stacked ? `${color}cc` : undefined,
        paths: bars ? uPlot.paths.bars({ size: [0.6, 60] }) : undefined,
        spanGaps: !bars,
        points: { show: !bars && s.values.length < 4, size: 7 },
        value: (u, v, si, idx) => formatValue(unit, idx === null || idx === undefined ? v : raw[i][idx]),
      };
    })],
  };
  const plot = new uPlot(options, [xs, ...order.map((i) => columns[i])], figure);
  charts.set(name, plot);
  record.plotted = () => ({
    xs: plot.data[0],
    columns: Object.fromEntries(order.map((i, k) => [seriesList[i].label, plot.data[k + 1]])),
    xMin: plot.scales.x.min,
    xMax: plot.scales.x.max,
    yLabels: plot.axes[1]._values || [],  // the labels the y axis drew (uPlot keeps them)
  });
}

// Every chart drawn again at its figure's width (after the window was resized).
export function resizeAll() {
  for (const [name, plot] of charts) {
    const figure = figureOf(name);
    plot.setSize({ width: Math.max(figure.clientWidth - 16, 280), height: 220 });
  }
}
