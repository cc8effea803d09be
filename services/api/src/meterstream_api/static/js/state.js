// The view's state (range, model, percentile, feedback and training choices) lives in the
// URL's query string, so a link shows the same view; the key stays in the hash (never sent).
const DEFAULTS = { range: "1h", end: "", model: "", pct: "p95", fkey: "", pkey: "", runs: "", hkey: "", smoothing: "ema", amount: "0.6" };

export const state = { ...DEFAULTS };

export function readState() {
  const params = new URLSearchParams(location.search);
  for (const name of Object.keys(DEFAULTS)) {
    if (params.has(name)) state[name] = params.get(name);
  }
}

export function writeState() {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(state)) {
    if (value !== DEFAULTS[name]) params.set(name, value);
  }
  const query = params.toString();
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
}

const RANGE_S = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000 };

// The chosen range as [start, end] in Unix seconds: ending now, or at the pinned `end`.
export function timeRange() {
  const end = state.end ? Number(state.end) : Math.floor(Date.now() / 1000);
  return [end - (RANGE_S[state.range] || 3600), end];
}

export function isoTime(seconds) { return new Date(seconds * 1000).toISOString(); }

// At most 100 buckets over the range, whole minutes from an hour up (read from the
// minute/hour rollups, not the raw rows); finer for shorter ranges.
const BUCKETS_S = [10, 15, 60, 300, 900, 3600, 10800];
export function bucketSeconds(span) {
  return BUCKETS_S.find((b) => span / b <= 100) || 86400;
}
