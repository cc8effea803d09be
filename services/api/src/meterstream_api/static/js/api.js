// The query API with the project's key; errors carry the API's own explanation.
let apiKey = new URLSearchParams(location.hash.slice(1)).get("key") || localStorage.getItem("meterstream-key");

export function hasKey() { return Boolean(apiKey); }

export function setKey(key) {
  apiKey = key;
  localStorage.setItem("meterstream-key", key);
}

export class ApiError extends Error {}

export function apiUrl(path, params = {}) {
  const url = new URL(`/api/v1/${path}`, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of [].concat(value)) url.searchParams.append(name, item);
  }
  return url;
}

export async function api(path, params = {}) {
  const url = apiUrl(path, params);
  const response = await fetch(url, { headers: { Authorization: `Bearer ${apiKey}` } });
  if (response.status === 401) throw new ApiError("the API key was refused");
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new ApiError(`${path}: ${body.detail || response.statusText}`);
  }
  return response.json();
}
