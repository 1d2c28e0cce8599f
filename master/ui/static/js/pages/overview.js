// Overview: who leads, the masters' raft states, the cluster's resources
// as bars, and a summary of agents and frameworks.

import { api } from '../api.js';
import {
  ago, byName, fmtCPU, fmtMB, h, hostURL, legend, miniBar, panel, pill, resBar, table,
} from '../dom.js';

function card(label, value, note, id) {
  return h('div', { class: 'card', id }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), h('div', { class: 'note' }, note));
}

function sum(agents, field) {
  const s = { cpus: 0, mem: 0, disk: 0 };
  for (const a of agents) {
    const r = a[field] || {};
    s.cpus += r.cpus || 0;
    s.mem += r.mem || 0;
    s.disk += r.disk || 0;
  }
  return s;
}

function render(d, leader) {
  const { members, agents, frameworks, total, running } = d;
  const activeAgents = agents.filter((a) => a.state === 'ACTIVE').length;
  const upMembers = members.filter((m) => m.state !== 'unreachable').length;
  const activeFws = frameworks.filter((f) => f.active).length;
  const tot = sum(agents, 'resources');
  const used = sum(agents, 'used');
  const off = sum(agents, 'offered');

  const cards = h('div', { class: 'grid cards' },
    card('Leader', leader ? leader.name : 'none', leader ? `term ${leader.term}` : 'election in progress', 'card-leader'),
    card('Masters', `${upMembers} / ${members.length}`, 'reporting'),
    card('Agents', `${activeAgents} / ${agents.length}`, 'active'),
    card('Frameworks', `${activeFws} / ${frameworks.length}`, 'connected'),
    card('Tasks', String(running), `running · ${total} known`));

  const resources = panel('Resources', h('div', { class: 'body' },
    resBar('CPUs', used.cpus, off.cpus, tot.cpus, fmtCPU),
    resBar('Memory', used.mem, off.mem, tot.mem, fmtMB),
    resBar('Disk', used.disk, off.disk, tot.disk, fmtMB),
    legend()));

  const memberRows = members.map((m) => h('tr', null,
    h('td', null, h('b', null, m.name)),
    h('td', null, pill(m.state)),
    h('td', { class: 'mono' }, m.raft_addr),
    h('td', null, m.http ? h('a', { href: hostURL(m.http, '/') }, m.http) : h('span', { class: 'muted' }, '—')),
    h('td', null, ago(m.last_seen))));
  const membersPanel = panel('Masters', table(['Name', 'Raft state', 'Raft address', 'HTTP', 'Last report'], memberRows, { empty: 'No members known.' }));

  const agentRows = agents.map((a) => h('tr', { dataset: { agent: a.id } },
    h('td', null, h('a', { href: `#/tasks?agent=${encodeURIComponent(a.id)}` }, a.hostname || a.id), h('span', { class: 'id' }, a.id)),
    h('td', null, pill(a.state)),
    h('td', null, miniBar(a.used?.cpus, a.offered?.cpus, a.resources?.cpus, fmtCPU)),
    h('td', null, miniBar(a.used?.mem, a.offered?.mem, a.resources?.mem, fmtMB))));
  const agentsPanel = panel('Agents', table(['Agent', 'State', 'CPUs', 'Memory'], agentRows, { empty: 'No agents registered.' }),
    h('a', { href: '#/agents' }, 'all agents →'));

  const fwRows = frameworks.map((f) => h('tr', null,
    h('td', null, h('a', { href: `#/tasks?framework=${encodeURIComponent(f.id)}` }, f.name || f.id), h('span', { class: 'id' }, f.id)),
    h('td', null, pill(f.active ? 'active' : 'inactive')),
    h('td', { class: 'num' }, String(f.stats?.tasks_launched ?? 0)),
    h('td', { class: 'why' }, f.offer_status || '')));
  const fwPanel = panel('Frameworks', table(['Framework', 'Status', ['Launched', 'num'], 'Offers now'], fwRows, { empty: 'No frameworks registered.' }),
    h('a', { href: '#/frameworks' }, 'offer diagnostics →'));

  return [cards, h('div', { class: 'grid two' }, h('div', null, resources, membersPanel), h('div', null, agentsPanel, fwPanel))];
}

export default {
  title: 'Overview',
  create(_parts, _query, ctx) {
    const el = h('div', { id: 'overview' });
    return {
      el,
      async update() {
        const [members, agentList, fwList, all, run] = await Promise.all([
          api.members(), api.agents(), api.frameworks(), api.tasks({ limit: 1 }), api.tasks({ limit: 1, state: 'TASK_RUNNING' }),
        ]);
        const agents = byName(agentList, 'hostname');
        const frameworks = byName(fwList, 'name');
        const d = { members, agents, frameworks, total: all.total, running: run.total };
        el.replaceChildren(...render(d, ctx.leader));
      },
    };
  },
};
