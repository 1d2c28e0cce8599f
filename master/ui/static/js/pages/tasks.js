// Tasks: running and recently completed tasks, filtered by state,
// framework and agent, a page at a time, with links to their sandboxes.

import { api } from '../api.js';
import {
  byName, fmtCPU, fmtMB, h, panel, pill, reason, sameData, sandboxLinks, table,
} from '../dom.js';

const STATES = ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_FINISHED', 'TASK_FAILED',
  'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST', 'TASK_DROPPED', 'TASK_UNREACHABLE', 'TASK_GONE', 'TASK_UNKNOWN'];
const LIMITS = [25, 50, 100, 500];

function go(q) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== '' && v != null && !(k === 'offset' && +v === 0)) p.set(k, v);
  const s = p.toString();
  location.hash = `#/tasks${s ? '?' + s : ''}`;
}

function select(label, name, value, options, onchange) {
  const sel = h('select', { name, onchange: (e) => onchange(e.target.value) },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
  return { el: h('label', null, label, sel), sel };
}

function setOptions(sel, options, value) {
  const key = JSON.stringify(options);
  if (sel.dataset.key === key) return;
  sel.dataset.key = key;
  sel.replaceChildren(...options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
}

export default {
  title: 'Tasks',
  create(_parts, query) {
    const q = {
      state: query.get('state') || '',
      framework: query.get('framework') || '',
      agent: query.get('agent') || '',
      offset: Math.max(0, parseInt(query.get('offset') || '0', 10) || 0),
      limit: LIMITS.includes(+query.get('limit')) ? +query.get('limit') : 50,
    };
    const stateSel = select('State', 'state', q.state, [['', 'any'], ...STATES.map((s) => [s, s.replace('TASK_', '')])],
      (v) => go({ ...q, state: v, offset: 0 }));
    const fwSel = select('Framework', 'framework', q.framework, [['', 'any']], (v) => go({ ...q, framework: v, offset: 0 }));
    const agentSel = select('Agent', 'agent', q.agent, [['', 'any']], (v) => go({ ...q, agent: v, offset: 0 }));
    const limitSel = select('Per page', 'limit', String(q.limit), LIMITS.map((n) => [String(n), String(n)]),
      (v) => go({ ...q, limit: v, offset: 0 }));
    const prev = h('button', { type: 'button', class: 'btn', onclick: () => go({ ...q, offset: Math.max(0, q.offset - q.limit) }) }, '← previous');
    const next = h('button', { type: 'button', class: 'btn', onclick: () => go({ ...q, offset: q.offset + q.limit }) }, 'next →');
    const range = h('span', { class: 'muted small' });
    const body = h('div');
    const el = h('div', { id: 'tasks' }, h('h1', null, 'Tasks'),
      h('p', { class: 'sub' }, 'Running and recently completed tasks as the leading master knows them.'),
      h('div', { class: 'toolbar' }, stateSel.el, fwSel.el, agentSel.el, limitSel.el, h('span', { class: 'spacer' }), range, prev, next),
      body);
    const seen = {};
    return {
      el,
      async update() {
        const [page, fwList, agentList] = await Promise.all([api.tasks(q), api.frameworks(), api.agents()]);
        const fws = byName(fwList, 'name');
        const agents = byName(agentList, 'hostname');
        const fwName = Object.fromEntries(fws.map((f) => [f.id, f.name || f.id]));
        const host = Object.fromEntries(agents.map((a) => [a.id, a.hostname || a.id]));
        setOptions(fwSel.sel, [['', 'any'], ...fws.map((f) => [f.id, `${f.name} (${f.id.slice(0, 8)})`])], q.framework);
        setOptions(agentSel.sel, [['', 'any'], ...agents.map((a) => [a.id, a.hostname || a.id])], q.agent);
        const first = page.total ? page.offset + 1 : 0;
        range.textContent = `${first}–${page.offset + page.tasks.length} of ${page.total}`;
        prev.disabled = q.offset === 0;
        next.disabled = page.offset + page.tasks.length >= page.total;
        if (sameData(seen, [page, fwName, host])) return;
        const rows = page.tasks.map((t) => h('tr', { dataset: { task: t.id, state: t.state } },
          h('td', null, h('b', { class: 'mono' }, t.id), t.name && t.name !== t.id ? h('span', { class: 'id' }, t.name) : null),
          h('td', null, h('a', { href: `#/tasks?framework=${encodeURIComponent(t.framework_id)}` }, fwName[t.framework_id] || t.framework_id)),
          h('td', null, h('a', { href: `#/tasks?agent=${encodeURIComponent(t.agent_id)}` }, host[t.agent_id] || t.agent_id)),
          h('td', null, pill(t.state)),
          h('td', { class: 'small', title: t.message || '' }, reason(t.reason), t.reason && t.message ? ': ' : '', t.message || ''),
          h('td', { class: 'num' }, fmtCPU(t.resources?.cpus)),
          h('td', { class: 'num' }, fmtMB(t.resources?.mem)),
          h('td', null, sandboxLinks(t.agent_id, t.framework_id, t.id))));
        body.replaceChildren(panel(page.total === 1 ? '1 task' : `${page.total} tasks`, table(
          ['Task', 'Framework', 'Agent', 'State', 'Reason / message', ['CPUs', 'num'], ['Memory', 'num'], 'Sandbox'],
          rows, { empty: page.total ? 'No tasks on this page.' : 'No tasks match.' })));
      },
    };
  },
};
