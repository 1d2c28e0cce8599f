// Frameworks: registration, offer statistics and the allocator's
// explanation of what each framework is (or is not) offered now.

import { api } from '../api.js';
import {
  byName, h, panel, pill, safeURL, sameData, table,
} from '../dom.js';

function num(n) {
  return h('td', { class: 'num' }, String(n ?? 0));
}

/** attention marks offer explanations that usually need an operator. */
function attention(why) {
  return /quota|no free|suppressed|inactive|filtered|declin|drain/i.test(why || '');
}

function row(f) {
  const s = f.stats || {};
  const ui = safeURL(f.webui_url);
  const roles = (f.roles && f.roles.length ? f.roles : [f.role || '*']).map((r) => h('span', { class: 'chip' }, r));
  return h('tr', { dataset: { framework: f.id } },
    h('td', null, h('b', null, f.name || f.id), h('span', { class: 'id' }, f.id)),
    h('td', null, roles),
    h('td', null, pill(f.active ? 'active' : 'inactive')),
    num(s.offers_sent), num(s.offers_accepted), num(s.offers_declined), num(s.offers_rescinded), num(s.tasks_launched),
    h('td', { class: attention(f.offer_status) ? 'why attention' : 'why' }, f.offer_status || '—'),
    h('td', null,
      h('a', { href: `#/tasks?framework=${encodeURIComponent(f.id)}` }, 'tasks'),
      ui ? [' · ', h('a', { href: ui, target: '_blank', rel: 'noopener', class: 'webui' }, 'web UI ↗')] : null));
}

export default {
  title: 'Frameworks',
  create() {
    const body = h('div');
    const el = h('div', { id: 'frameworks' }, h('h1', null, 'Frameworks'),
      h('p', { class: 'sub' }, 'Schedulers registered with the master. “Offers now” is the allocator’s own account of why a framework gets offers or not.'),
      body);
    const seen = {};
    return {
      el,
      async update() {
        const fws = byName(await api.frameworks(), 'name');
        if (sameData(seen, fws)) return;
        body.replaceChildren(panel(`${fws.length} frameworks`, table(
          ['Framework', 'Roles', 'Status', ['Offers sent', 'num'], ['Accepted', 'num'], ['Declined', 'num'], ['Rescinded', 'num'], ['Tasks launched', 'num'], 'Offers now', ''],
          fws.map(row), { empty: 'No frameworks registered.' })));
      },
    };
  },
};
