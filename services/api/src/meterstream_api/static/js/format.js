// Numbers as a person reads them, by unit; always en-US digits (no locale-dependent commas
// that clip in a narrow axis). With `step` (an axis's tick spacing) a value gets the digits
// that tell neighbouring ticks apart, so an axis never repeats a label.
const plain = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const SCALES = [[1e9, "B"], [1e6, "M"], [1e3, "K"]];

// Decimals that write `step` exactly (0.05 → 2, 0.025 → 3, 20 → 0); `fallback` without one.
function digits(step, fallback) {
  if (!step || !Number.isFinite(step)) return fallback;
  for (let d = 0; d < 6; d += 1) {
    const scaled = Math.abs(step) * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6) return d;
  }
  return 6;
}

// 1.5K, 20M, 0.25: scaled by the value's magnitude, to the precision of `step`.
function short(v, step) {
  const [scale, suffix] = SCALES.find(([s]) => Math.abs(v) >= s) || [1, ""];
  const fallback = scale === 1 ? (Number.isInteger(v) ? 0 : 2) : 1;
  return `${(v / scale).toFixed(digits(step && step / scale, fallback))}${suffix}`;
}

export const UNITS = {
  ms: (v, step) => (Math.abs(v) < 1000
    ? `${v.toFixed(digits(step, Math.abs(v) < 10 ? 1 : 0))} ms`
    : `${(v / 1000).toFixed(digits(step && step / 1000, Math.abs(v) < 10_000 ? 2 : 1))} s`),
  perSecond: (v, step) => `${short(v, step)}/s`,
  tokensPerSecond: (v, step) => `${short(v, step)} tok/s`,
  usd: (v, step) => (Math.abs(v) >= 1000 ? `$${short(v, step)}` : `$${v.toFixed(Math.max(2, digits(step, Math.abs(v) < 1 ? 4 : 2)))}`),
  percent: (v, step) => `${(v * 100).toFixed(digits(step && step * 100, Math.abs(v) < 0.1 ? 2 : 1))}%`,
  count: (v, step) => short(v, step),
  score: (v, step) => v.toFixed(digits(step, 3)),
  number: (v, step) => (step ? v.toFixed(digits(step, 2)) : plain.format(v)),
};

export function formatValue(unit, value, step) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return (UNITS[unit] || UNITS.number)(value, step);
}

// A table cell: numbers with at most four significant digits, text escaped.
export function cell(value) {
  if (typeof value === "number") return Number.isInteger(value) ? plain.format(value) : value.toPrecision(4);
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
