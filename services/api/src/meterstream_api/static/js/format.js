// Numbers as a person reads them, by unit; always en-US digits (no locale-dependent commas
// that clip in a narrow axis).
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const plain = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

export const UNITS = {
  ms: (v) => (Math.abs(v) < 1000 ? `${v.toFixed(Math.abs(v) < 10 ? 1 : 0)} ms` : `${(v / 1000).toFixed(Math.abs(v) < 10_000 ? 2 : 1)} s`),
  perSecond: (v) => `${compact.format(v)}/s`,
  tokensPerSecond: (v) => `${compact.format(v)} tok/s`,
  usd: (v) => (Math.abs(v) >= 1000 ? `$${compact.format(v)}` : `$${v.toFixed(Math.abs(v) < 1 ? 4 : 2)}`),
  percent: (v) => `${(v * 100).toFixed(Math.abs(v) < 0.1 ? 2 : 1)}%`,
  count: (v) => compact.format(v),
  score: (v) => v.toFixed(3),
  number: (v) => plain.format(v),
};

export function formatValue(unit, value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return (UNITS[unit] || UNITS.number)(value);
}

// A table cell: numbers with at most four significant digits, text escaped.
export function cell(value) {
  if (typeof value === "number") return Number.isInteger(value) ? plain.format(value) : value.toPrecision(4);
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
