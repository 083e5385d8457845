// bando's HTTP API as the viewer sees it: relative URLs (so the viewer works behind a path
// prefix), JSON errors turned into ApiError, and a way to tell "this route is not on this server
// yet" (404 "no such route") from "this thing does not exist" (404 with another message).

export class ApiError extends Error {
  constructor(url, status, message, routeMissing) {
    super(message);
    this.url = url;
    this.status = status;
    /** True when the server has no such route at all (an API not deployed on this server). */
    this.routeMissing = routeMissing;
  }
}

/** An absolute URL for a bando path ("scenarios", "query/radius?...") relative to the page. */
export function apiUrl(path, params) {
  const url = new URL(path.replace(/^\//, ''), document.baseURI);
  if (params) {
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
    }
  }
  return url.href;
}

async function request(path, params, init) {
  const url = apiUrl(path, params);
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new ApiError(url, 0, `không kết nối được máy chủ (cannot reach the server): ${e.message}`, false);
  }
  if (response.ok) return response;
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch { /* not JSON */ }
  const routeMissing = response.status === 404 && /no such route/i.test(message);
  throw new ApiError(url, response.status, message, routeMissing);
}

export async function getJson(path, params) {
  const response = await request(path, params);
  if (response.status === 204) return null;
  return response.json();
}

export async function postJson(path, params, body) {
  const response = await request(path, params, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return response.json();
}

/**
 * Whether a route exists on this server: 'ok' (it answered, even 400 for missing parameters),
 * 'missing' (404 no such route) or 'error'.
 */
export async function probe(path) {
  try {
    const response = await fetch(apiUrl(path));
    if (response.status === 404) {
      let message = '';
      try { message = (await response.json()).error.message; } catch { /* ignore */ }
      return /no such route/i.test(message) ? 'missing' : 'ok';
    }
    return response.status < 500 ? 'ok' : 'error';
  } catch {
    return 'error';
  }
}

// ---- shape normalisers: the viewer accepts the reasonable variants of each answer ----

/** `GET /scenarios` → [{id, title, description}]. */
export function normaliseScenarioList(body) {
  const list = Array.isArray(body) ? body : (body && (body.scenarios || body.items || body.data)) || [];
  return list
    .map((s) => (typeof s === 'string' ? { id: s, title: s } : s))
    .filter((s) => s && s.id)
    .map((s) => ({ id: String(s.id), title: s.title || s.id, description: s.description || '' }));
}

/** Total matched count of a query answer (GeoJSON FeatureCollection with numberMatched). */
export function matchedOf(fc) {
  if (!fc) return 0;
  if (typeof fc.numberMatched === 'number') return fc.numberMatched;
  return Array.isArray(fc.features) ? fc.features.length : 0;
}

/** Rows of a `/stats` answer: [{code, name, count, sum, area_m2, length_m, group, geometry}]. */
export function normaliseStats(body) {
  let rows = [];
  if (body && Array.isArray(body.features)) {
    rows = body.features.map((f) => ({ ...(f.properties || {}), geometry: f.geometry || null }));
  } else if (Array.isArray(body)) {
    rows = body;
  } else if (body) {
    rows = body.units || body.rows || body.stats || body.results || Object.values(body).find(Array.isArray) || [];
  }
  return rows.map((r) => {
    const unit = r.unit && typeof r.unit === 'object' ? r.unit : {};
    return {
      ...r,
      code: r.code ?? r.unit_code ?? unit.code ?? r.id ?? '',
      name: r.name ?? r.unit_name ?? unit.name ?? '',
    };
  });
}

/**
 * Rows of a `/scenarios/{id}/indicators` answer, flattened:
 * [{indicator, title, unit (measure unit), code, name, value, target, status}].
 */
export function normaliseIndicators(body) {
  const out = [];
  const push = (ind, u) => {
    const unitObj = u.unit && typeof u.unit === 'object' ? u.unit : {};
    out.push({
      indicator: ind.id ?? u.indicator ?? u.indicator_id ?? '',
      title: ind.title ?? u.title ?? u.indicator ?? '',
      measureUnit: (typeof ind.unit === 'string' ? ind.unit : undefined) ?? (typeof u.unit === 'string' ? u.unit : ''),
      code: u.code ?? u.unit_code ?? unitObj.code ?? '',
      name: u.name ?? u.unit_name ?? unitObj.name ?? '',
      value: u.value,
      target: u.target ?? ind.target,
      status: u.status ?? (u.ok === false ? 'below_target' : 'ok'),
      measure: ind.measure ?? u.measure ?? '',
      by: ind.by ?? u.by ?? '',
      id: u.id ?? unitObj.id,
    });
  };
  let list = [];
  if (Array.isArray(body)) list = body;
  else if (body && Array.isArray(body.indicators)) list = body.indicators;
  else if (body && Array.isArray(body.features)) list = body.features.map((f) => f.properties || {});
  else if (body && Array.isArray(body.units)) list = body.units;
  for (const item of list) {
    const units = item.units || item.values || item.results || item.by_unit;
    if (Array.isArray(units)) units.forEach((u) => push(item, u));
    else push({}, item);
  }
  return out;
}

/** "≤ 5", "≥ 95 %", from a target {min, max} or a number; `scale` 100 for shares shown in %. */
export function formatTarget(target, unit, scale = 1) {
  if (target === undefined || target === null) return '';
  const u = unit ? ` ${unit}` : '';
  if (typeof target === 'number') return `${fmt(target * scale)}${u}`;
  const parts = [];
  if (target.min !== undefined && target.min !== null) parts.push(`≥ ${fmt(target.min * scale)}${u}`);
  if (target.max !== undefined && target.max !== null) parts.push(`≤ ${fmt(target.max * scale)}${u}`);
  return parts.join(', ');
}

const numberFormat = new Intl.NumberFormat('vi-VN', { maximumFractionDigits: 2 });
export function fmt(value) {
  if (typeof value === 'number') return numberFormat.format(value);
  if (value === true) return 'có';
  if (value === false) return 'không';
  if (value === null || value === undefined) return '—';
  return String(value);
}
