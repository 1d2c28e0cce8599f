// Agents: every admitted agent with its state and resources.

import { api } from '../api.js';
import {
  byName, fmtCPU, fmtMB, h, legend, miniBar, panel, pill, sameData, table,
} from '../dom.js';

function ports(r) {
  const p = (r && r.ports) || [];
  return p.length ? p.map((x) => (x.begin === x.end ? `${x.begin}` : `${x.begin}-${x.end}`)).join(', ') : '—';
}

function row(a) {
  const attrs = Object.entries(a.attributes || {}).map(([k, v]) => h('span', { class: 'chip' }, `${k}=${v}`));
  return h('tr', { dataset: { agent: a.id } },
    h('td', null, h('b', null, a.hostname || a.id), h('span', { class: 'id' }, a.id)),
    h('td', null, pill(a.state)),
    h('td', null, miniBar(a.used?.cpus, a.offered?.cpus, a.resources?.cpus, fmtCPU)),
    h('td', null, miniBar(a.used?.mem, a.offered?.mem, a.resources?.mem, fmtMB)),
    h('td', null, miniBar(a.used?.disk, a.offered?.disk, a.resources?.disk, fmtMB)),
    h('td', { class: 'mono small' }, ports(a.resources)),
    h('td', { class: 'small' }, a.isolation || '—'),
    h('td', null, attrs.length ? attrs : h('span', { class: 'muted' }, '—')),
    h('td', null, h('a', { href: `#/tasks?agent=${encodeURIComponent(a.id)}` }, 'tasks')));
}

export default {
  title: 'Agents',
  create() {
    const body = h('div');
    const el = h('div', { id: 'agents' }, h('h1', null, 'Agents'),
      h('p', { class: 'sub' }, 'Machines admitted to the cluster. Bars show what tasks use (solid) and what is offered to frameworks now (striped).'),
      body);
    const seen = {};
    return {
      el,
      async update() {
        const agents = byName(await api.agents(), 'hostname');
        if (sameData(seen, agents)) return;
        const counts = {};
        for (const a of agents) counts[a.state] = (counts[a.state] || 0) + 1;
        const summary = Object.entries(counts).map(([s, n]) => h('span', null, pill(s, `${n} ${s.toLowerCase()}`), ' '));
        body.replaceChildren(panel(`${agents.length} agents`,
          h('div', null,
            table(['Agent', 'State', 'CPUs', 'Memory', 'Disk', 'Ports', 'Isolation', 'Attributes', ''], agents.map(row), { empty: 'No agents registered yet.' }),
            h('div', { class: 'body' }, legend())),
          summary));
      },
    };
  },
};
