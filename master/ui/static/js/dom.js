// DOM helpers, formatters, state colours and resource bars shared by the
// pages. Everything is built with createElement (no innerHTML), so text
// from the cluster is never parsed as markup.

/** h builds an element: h('td', {class: 'num'}, 'text', child, [more]). */
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'style') Object.assign(el.style, v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const k of kids) {
    if (k == null || k === false) continue;
    if (Array.isArray(k)) append(el, k);
    else el.append(k instanceof Node ? k : String(k));
  }
}

/** table builds a table from column headers and rows of cells. */
export function table(cols, rows, opts = {}) {
  const head = h('tr', null, cols.map((c) => {
    const [label, cls] = Array.isArray(c) ? c : [c, null];
    return h('th', { class: cls }, label);
  }));
  const body = h('tbody', null, rows);
  if (!rows.length && opts.empty) {
    body.append(h('tr', null, h('td', { class: 'empty', colspan: cols.length }, opts.empty)));
  }
  return h('div', { class: 'table-wrap' }, h('table', { class: opts.class }, h('thead', null, head), body));
}

/** panel is a titled box; right is optional content at the header's end. */
export function panel(title, body, right) {
  return h('section', { class: 'panel' },
    h('header', null, h('h2', null, title), right ? h('span', { class: 'right' }, right) : null),
    body);
}

export function errorBox(err) {
  return h('div', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err));
}

export function empty(text) {
  return h('div', { class: 'empty' }, text);
}

/** safeURL returns u if it is an absolute http(s) URL, else null. */
export function safeURL(u) {
  if (!u) return null;
  try {
    const url = new URL(u, location.href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/** hostURL turns a listen address (host:port) into a URL a browser can
 * open: an unspecified host (0.0.0.0, [::]) becomes the page's host. */
export function hostURL(addr, path = '/') {
  if (!addr) return null;
  let host = addr;
  let port = '';
  const m = addr.match(/^(\[[^\]]*\]|[^:]*):(\d+)$/);
  if (m) [, host, port] = m;
  if (host === '' || host === '0.0.0.0' || host === '[::]' || host === '::') host = location.hostname;
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return `${location.protocol}//${host}${port ? ':' + port : ''}${path}`;
}

// ---- formatting ----

export function fmtNum(n, digits = 2) {
  if (n == null || Number.isNaN(n)) return '0';
  return String(+Number(n).toFixed(digits));
}

export function fmtCPU(n) { return fmtNum(n || 0, 2); }

/** fmtMB formats an amount in MB (as the wire's mem and disk are). */
export function fmtMB(mb) {
  mb = mb || 0;
  if (mb >= 1024 * 1024) return `${fmtNum(mb / 1024 / 1024, 1)} TiB`;
  if (mb >= 1024) return `${fmtNum(mb / 1024, 1)} GiB`;
  return `${fmtNum(mb, 0)} MiB`;
}

export function fmtBytes(n) {
  if (n >= 1 << 20) return `${fmtNum(n / (1 << 20), 1)} MiB`;
  if (n >= 1024) return `${fmtNum(n / 1024, 1)} KiB`;
  return `${n} B`;
}

function validTime(t) {
  if (!t) return null;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) || d.getFullYear() < 1971 ? null : d;
}

export function fmtDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** ago renders a timestamp as "12s ago" (or "in 3m"), with the full time
 * as a tooltip; zero times render as a dash. */
export function ago(t) {
  const d = validTime(t);
  if (!d) return h('span', { class: 'muted' }, '—');
  const ms = Date.now() - d.getTime();
  const text = ms >= 0 ? `${fmtDuration(ms)} ago` : `in ${fmtDuration(-ms)}`;
  return h('span', { title: d.toLocaleString() }, text);
}

export function between(a, b) {
  const x = validTime(a);
  const y = validTime(b) || new Date();
  return x ? fmtDuration(y - x) : '—';
}

// ---- states ----

const STATE_CLASS = {
  // tasks
  TASK_RUNNING: 'ok', TASK_STAGING: 'info', TASK_STARTING: 'info', TASK_KILLING: 'warn',
  TASK_FINISHED: 'done', TASK_FAILED: 'bad', TASK_ERROR: 'bad', TASK_KILLED: 'warn',
  TASK_LOST: 'bad', TASK_DROPPED: 'bad', TASK_GONE: 'bad', TASK_UNREACHABLE: 'warn', TASK_UNKNOWN: 'mute',
  // agents
  ACTIVE: 'ok', DRAINING: 'warn', DRAINED: 'mute', UNREACHABLE: 'bad', GONE: 'mute', REREGISTERING: 'info',
  // raft members
  Leader: 'ok', Follower: 'info', Candidate: 'warn', Shutdown: 'mute', unreachable: 'bad',
  // batch runs and attempts
  RUNNING: 'ok', STOPPING: 'warn', SUCCEEDED: 'done', FAILED: 'bad', KILLED: 'warn', MISSED: 'mute', SKIPPED: 'mute',
  LAUNCHING: 'info', WAITING: 'mute',
  // service deployments and health
  running: 'info', succeeded: 'ok', failed: 'bad', rolled_back: 'warn', superseded: 'mute', cancelled: 'mute',
  healthy: 'ok', unhealthy: 'bad',
  // frameworks
  active: 'ok', inactive: 'warn',
};

export function stateClass(s) { return STATE_CLASS[s] || 'mute'; }

/** pill shows a state in its colour; TASK_ and REASON_ prefixes are
 * dropped from the text (the tooltip keeps the full name). */
export function pill(state, text) {
  if (!state) return h('span', { class: 'muted' }, '—');
  const label = text || String(state).replace(/^(TASK_|REASON_)/, '').replaceAll('_', ' ');
  return h('span', { class: `pill ${stateClass(state)}`, title: state, dataset: { state } }, label);
}

export function reason(r) {
  return r ? String(r).replace(/^REASON_/, '').replaceAll('_', ' ').toLowerCase() : '';
}

// ---- resource bars ----

function pct(x, total) {
  x = Number(x) || 0;
  total = Number(total) || 0;
  if (total <= 0) return 0;
  return Math.max(0, Math.min(100, (100 * x) / total));
}

function barEl(used, offered, total, big) {
  const u = pct(used, total);
  const o = Math.min(100 - u, pct(offered, total));
  return h('div', { class: big ? 'bar big' : 'bar', role: 'img', 'aria-label': `${fmtNum(u, 0)}% used, ${fmtNum(o, 0)}% offered` },
    h('span', { class: 'used', style: { width: `${u}%` } }),
    h('span', { class: 'offered', style: { width: `${o}%` } }));
}

/** resBar is a labelled bar: used (solid) and offered (striped) of total. */
export function resBar(label, used, offered, total, fmt) {
  [used, offered, total] = [used, offered, total].map((x) => Number(x) || 0);
  const nums = `${fmt(used)} used · ${fmt(offered)} offered · ${fmt(total)} total`;
  return h('div', { class: 'res' },
    h('div', { class: 'head' }, h('span', null, label),
      h('span', { class: 'nums' }, `${fmtNum(pct(used, total), 0)}% · ${nums}`)),
    barEl(used, offered, total, true));
}

/** miniBar fits a table cell. */
export function miniBar(used, offered, total, fmt) {
  [used, offered, total] = [used, offered, total].map((x) => Number(x) || 0);
  return h('div', { class: 'mini', title: `${fmt(used)} used, ${fmt(offered)} offered, ${fmt(total)} total` },
    barEl(used, offered, total, false),
    h('div', { class: 'nums' }, `${fmt(used)} / ${fmt(total)}`));
}

/** stackBar shows parts ([{n, cls, label}]) of a whole, e.g. a run's
 * succeeded, failed, running and waiting instances. */
export function stackBar(parts, total) {
  return h('div', { class: 'bar', title: parts.filter((p) => p.n).map((p) => `${p.n} ${p.label}`).join(', ') },
    parts.map((p) => h('span', { class: p.cls, style: { width: `${pct(p.n, total)}%` } })));
}

export function legend() {
  return h('div', { class: 'legend' },
    h('span', null, h('i', { class: 'used' }), 'used by tasks'),
    h('span', null, h('i', { class: 'offered' }), 'offered to frameworks'),
    h('span', null, h('i', { class: 'free' }), 'free'));
}

/** sandboxLink points at the in-UI viewer of a task's stdout or stderr. */
export function sandboxLink(agent, fw, task, file) {
  if (!agent || !fw || !task) return h('span', { class: 'muted' }, file);
  const href = `#/sandbox/${encodeURIComponent(agent)}/${encodeURIComponent(fw)}/${encodeURIComponent(task)}/${file}`;
  return h('a', { href, class: `sb-${file}`, dataset: { task, file }, title: `${file} of ${task}` }, file);
}

export function sandboxLinks(agent, fw, task) {
  return h('span', { class: 'sandbox-links' }, sandboxLink(agent, fw, task, 'stdout'), ' · ', sandboxLink(agent, fw, task, 'stderr'));
}

/** sameData reports whether v serialises as it did the last time holder
 * saw it, and remembers it: pages skip re-rendering (and so keep text
 * selections) when nothing changed. */
export function sameData(holder, v) {
  const s = JSON.stringify(v);
  if (holder.last === s) return true;
  holder.last = s;
  return false;
}

/** byName sorts agents by hostname and frameworks by name (then ID), so
 * that rows keep their places between polls and across failovers. */
export function byName(list, field) {
  return [...list].sort((a, b) => String(a[field] || a.id).localeCompare(String(b[field] || b.id)) || String(a.id).localeCompare(String(b.id)));
}
