// Small DOM helpers and the banner stack (errors and notices above the map).

/** el('div', {class: 'x', onclick: f}, 'text', childNode ...) */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(node.style, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

const banners = new Map();
/** Banners that only concern one view are hidden in the other (see viewer.css). */
const SCOPE = { scenarios: 'map', scenario: 'map', style: 'map', tiles: 'map', extrude: 'map', query: 'map', wards: 'map', '3d': '3d' };

/**
 * Shows (or replaces) the banner `key`. level: 'error' | 'warn' | 'info'. `detail` is shown
 * smaller (the URL and the server's message), so an operator can tell IT what failed.
 */
export function showBanner(key, level, text, detail) {
  const host = document.getElementById('banners');
  if (!host) return;
  hideBanner(key);
  const node = el('div', { class: `banner ${level}`, role: level === 'error' ? 'alert' : 'status', dataset: { key, scope: SCOPE[key] || 'all', test: `banner-${level}` } },
    el('span', { class: 'banner-icon', 'aria-hidden': 'true' }, level === 'error' ? '⚠' : level === 'warn' ? '!' : 'ℹ'),
    el('div', { class: 'banner-text' }, el('strong', {}, text), detail ? el('div', { class: 'banner-detail' }, detail) : null),
    el('button', { class: 'banner-close', title: 'Đóng (close)', onclick: () => hideBanner(key) }, '×'));
  host.append(node);
  banners.set(key, node);
}

export function hideBanner(key) {
  const node = banners.get(key);
  if (node) node.remove();
  banners.delete(key);
}

/** Banner text for an API failure: says plainly when the route is not deployed yet. */
export function apiFailure(key, what, error) {
  if (error && error.routeMissing) {
    showBanner(key, 'warn', `${what}: máy chủ này chưa có API này (not available on this server yet).`,
      `${error.url} → HTTP 404 “${error.message}”`);
  } else {
    showBanner(key, 'error', `${what}: lỗi (failed).`,
      error ? `${error.url || ''} → ${error.status ? `HTTP ${error.status} ` : ''}${error.message}` : '');
  }
}
