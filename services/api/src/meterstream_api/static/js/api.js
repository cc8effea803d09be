// The query API with the project's key. Requests made in the same task travel together
// in one POST /api/v1/batch (a browser opens six connections to a host,
// and a refresh asks for about twenty answers); each still settles on its own, with the
// API's own explanation when it is refused.
let apiKey = new URLSearchParams(location.hash.slice(1)).get("key") || localStorage.getItem("meterstream-key");
const pending = new Map();

export function hasKey() { return Boolean(apiKey); }

export function setKey(key) {
  apiKey = key;
  localStorage.setItem("meterstream-key", key);
}

export class ApiError extends Error {}
export const KEY_REFUSED = "the API key was refused";

function cleaned(params) {
  return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""));
}

// The GET URL that answers the same as api(path, params): what each chart records it drew.
export function apiUrl(path, params = {}) {
  const url = new URL(`/api/v1/${path}`, location.origin);
  for (const [name, value] of Object.entries(cleaned(params))) {
    for (const item of [].concat(value)) url.searchParams.append(name, item);
  }
  return url;
}

async function flush(group) {
  const batch = pending.get(group);
  pending.delete(group);
  const fail = (message) => batch.forEach((r) => r.reject(new ApiError(message)));
  let response;
  try {
    response = await fetch("/api/v1/batch", {
      method: "POST",
      headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({ requests: batch.map((r) => ({ path: r.path, params: r.params })) }),
    });
  } catch (error) {
    fail(`the API did not answer (${error.message})`);
    return;
  }
  if (response.status === 401) { fail(KEY_REFUSED); return; }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    fail(`batch: ${JSON.stringify(body.detail || response.statusText)}`);
    return;
  }
  const answers = await response.json();
  answers.forEach((answer, i) => {
    const request = batch[i];
    if (answer.status === 200) request.resolve(answer.body);
    else if (answer.status === 401) request.reject(new ApiError(KEY_REFUSED));
    else request.reject(new ApiError(`${request.path}: ${answer.body?.detail || answer.status}`));
  });
}

// `group`: requests of one group travel together. Short lists that other requests wait
// for ("lists") go apart from the heavy series, so the requests that depend on them start
// while the series are still being computed.
export function api(path, params = {}, group = "data") {
  return new Promise((resolve, reject) => {
    if (!pending.has(group)) {
      pending.set(group, []);
      queueMicrotask(() => flush(group));
    }
    pending.get(group).push({ path, params: cleaned(params), resolve, reject });
  });
}
