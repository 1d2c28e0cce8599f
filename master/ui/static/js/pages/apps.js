// Service apps: read from each service framework's own API (its
// webui_url): apps, their instances and health, and deployments.

import { getJSON } from '../api.js';
import {
  ago, errorBox, h, panel, pill, sandboxLinks, stackBar, table,
} from '../dom.js';
import { load, notes, toggle } from './frameworkapi.js';

function instancesBar(a) {
  const want = Math.max(a.instances || 0, 1);
  const healthy = a.healthy || 0;
  const running = Math.max(0, (a.running || 0) - healthy);
  const staged = a.staged || 0;
  return h('div', { class: 'mini' },
    stackBar([
      { n: healthy, cls: 's-ok', label: 'healthy' }, { n: running, cls: 's-info', label: 'running, not yet healthy' },
      { n: staged, cls: 's-mute', label: 'staged' },
    ], Math.max(want, healthy + running + staged)),
    h('div', { class: 'nums' }, `${healthy} healthy · ${a.running || 0} running / ${a.instances} wanted`));
}

function appHealth(a) {
  if (a.deleting) return pill('KILLING', 'deleting');
  if ((a.instances || 0) === 0) return pill('SKIPPED', 'scaled to 0');
  if (a.healthy >= a.instances) return pill('healthy');
  if (a.backoff) return pill('failed', 'backing off');
  return pill('running', 'deploying');
}

function deployment(dep) {
  if (!dep) return h('span', { class: 'muted' }, '—');
  return h('span', null, pill(dep.state), ` ${dep.kind} v${dep.from_version}→v${dep.to_version}`,
    dep.stalled ? [' ', pill('FAILED', 'stalled')] : null,
    dep.waiting ? h('span', { class: 'id', title: dep.waiting }, dep.waiting) : null);
}

function instancesTable(fwID, list) {
  return table(['Instance', 'Host', 'Ports', 'State', 'Health', 'Launched', 'Sandbox'],
    list.map((i) => h('tr', null,
      h('td', { class: 'mono small' }, i.id, i.killing ? h('span', { class: 'id' }, `killing: ${i.kill_reason || ''}`) : null),
      h('td', null, i.hostname || i.agent_id),
      h('td', { class: 'mono small' }, (i.ports || []).join(', ') || '—'),
      h('td', null, pill(i.state), i.message ? h('span', { class: 'id' }, i.message) : null),
      h('td', null, i.has_checks ? pill(i.health || 'UNKNOWN', i.health || 'unknown') : h('span', { class: 'muted' }, 'no checks')),
      h('td', null, ago(i.launched_at)),
      h('td', null, sandboxLinks(i.agent_id, fwID, i.id)))),
    { empty: 'No instances.' });
}

function detail(fwID, a) {
  const dep = a.deployment;
  const steps = dep && dep.steps ? dep.steps.slice(-6) : [];
  return h('div', null,
    h('dl', { class: 'kv' },
      h('dt', null, 'Command'), h('dd', { class: 'mono' }, a.spec?.cmd || (a.spec?.args || []).join(' ') || '—'),
      h('dt', null, 'Version'), h('dd', null, `${a.version} (stable ${a.stable || '—'}, config ${a.config})`),
      a.waiting ? [h('dt', null, 'Waiting'), h('dd', null, a.waiting)] : null,
      a.backoff ? [h('dt', null, 'Backoff'), h('dd', null, `${a.backoff.failures} failures, until `, ago(a.backoff.until))] : null,
      dep ? [h('dt', null, 'Deployment'), h('dd', null, deployment(dep),
        steps.length ? h('ol', { class: 'steps' }, steps.map((s) => h('li', null, ago(s.time), ' ', s.message))) : null)] : null),
    h('h2', { style: { margin: '12px 0 6px' } }, 'Instances'),
    instancesTable(fwID, a.tasks || []),
    (a.ended || []).length ? [h('h2', { style: { margin: '12px 0 6px' } }, 'Recently ended'), instancesTable(fwID, a.ended)] : null);
}

export default {
  title: 'Service apps',
  create() {
    const body = h('div');
    const el = h('div', { id: 'apps' }, h('h1', null, 'Service apps'),
      h('p', { class: 'sub' }, 'Long-running apps of the service frameworks, read from their own APIs. Click an app for its instances and deployment.'),
      body);
    const open = new Set();
    let last = null;

    function render() {
      if (!last) return;
      const out = [];
      for (const s of last.sections) {
        const rows = [];
        for (const a of s.apps || []) {
          const key = `${s.f.fw.id}|${a.id}`;
          const isOpen = open.has(key);
          rows.push(h('tr', { class: 'expandable', dataset: { app: a.id }, onclick: () => toggle(open, key, render) },
            h('td', null, h('span', { class: 'caret' }, isOpen ? '▾' : '▸'), h('b', null, a.id), h('span', { class: 'id' }, `version ${a.version}`)),
            h('td', null, appHealth(a)),
            h('td', null, instancesBar(a)),
            h('td', null, deployment(a.deployment)),
            h('td', { class: 'small' }, a.waiting || (a.backoff ? `backoff after ${a.backoff.failures} failures` : ''))));
          if (isOpen) rows.push(h('tr', { class: 'detail' }, h('td', { colspan: 5 }, detail(s.f.fw.id, a))));
        }
        out.push(panel(h('span', null, s.f.fw.name || s.f.fw.id, ' ', h('span', { class: 'muted small mono' }, s.f.fw.id)),
          s.error ? h('div', { class: 'body' }, errorBox(s.error)) : table(['App', 'Status', 'Instances', 'Deployment', 'Waiting for'], rows,
            { empty: 'No apps deployed.' }),
          h('a', { href: s.f.base, target: '_blank', rel: 'noopener' }, s.f.base)));
      }
      out.push(...notes('service', last.d, 'apps', 'Start one with “agora service serve …”; it registers its API address as the framework’s web UI URL.'));
      body.replaceChildren(...out);
    }

    return {
      el,
      async update() {
        const d = await load('service');
        const sections = await Promise.all(d.mine.map(async (f) => {
          try {
            return { f, apps: await getJSON(`${f.base}/v1/apps`) };
          } catch (e) {
            return { f, error: e };
          }
        }));
        last = { d, sections };
        render();
      },
    };
  },
};
