// Shared by the batch-jobs and service-apps pages: find the frameworks
// that serve the API a page needs, and say why others are not shown.

import { api, discover } from '../api.js';
import { h, panel } from '../dom.js';

/** load returns the frameworks of kind ('batch' or 'service') with a
 * reachable API, and a note on every framework that could not be read. */
export async function load(kind) {
  const fws = await api.frameworks();
  const found = await discover(fws);
  const mine = found.filter((f) => f.kind === kind);
  const unknown = found.filter((f) => f.kind === 'unknown');
  const noURL = fws.filter((f) => !f.webui_url);
  return { fws, mine, unknown, noURL };
}

/** notes explains frameworks that could not be read, and what to do when
 * no framework of the kind is there. */
export function notes(kind, d, what, how) {
  const out = [];
  if (!d.mine.length) {
    out.push(panel(`No ${kind} framework`, h('div', { class: 'empty', id: `no-${kind}` },
      h('p', null, `No registered framework serves the ${kind} API, so there are no ${what} to show.`),
      h('p', { class: 'small' }, how))));
  }
  if (d.unknown.length) {
    out.push(panel('Frameworks whose API could not be read', h('div', { class: 'body' },
      h('ul', { class: 'steps' }, d.unknown.map((u) => h('li', null,
        h('b', null, u.fw.name || u.fw.id), ' at ', h('a', { href: u.base, target: '_blank', rel: 'noopener' }, u.base), ': ', u.error || 'unknown API'))),
      h('p', { class: 'small muted' }, 'The browser calls each framework’s API directly: it must be reachable from here and send CORS headers.'))));
  }
  return out;
}

/** toggle flips key in set and re-renders at once. */
export function toggle(set, key, rerender) {
  if (set.has(key)) set.delete(key);
  else set.add(key);
  rerender();
}
