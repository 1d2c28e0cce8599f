// Batch jobs: read from each batch framework's own API (its webui_url):
// jobs, their active runs' progress, recent runs and their attempts.

import { getJSON } from '../api.js';
import {
  ago, between, errorBox, h, panel, pill, sandboxLinks, stackBar, table,
} from '../dom.js';
import { load, notes, toggle } from './frameworkapi.js';

function progressBar(p) {
  if (!p || !p.instances) return h('span', { class: 'muted' }, '—');
  return h('div', { class: 'mini' },
    stackBar([
      { n: p.succeeded, cls: 's-ok', label: 'succeeded' }, { n: p.failed, cls: 's-bad', label: 'failed' },
      { n: p.running, cls: 's-info', label: 'running' }, { n: p.cancelled, cls: 's-mute', label: 'cancelled' },
    ], p.instances),
    h('div', { class: 'nums' }, `${p.succeeded}/${p.instances} done`, p.failed ? `, ${p.failed} failed` : '', p.running ? `, ${p.running} running` : ''));
}

function runState(r) {
  return r.state === 'STOPPING' && r.outcome ? h('span', null, pill(r.state), ' → ', pill(r.outcome)) : pill(r.state);
}

function attemptsTable(fwID, attempts) {
  return table(['Instance', 'Attempt', 'Task', 'Agent', 'State', 'Exit', 'Ran', 'Sandbox'],
    (attempts || []).map((a) => h('tr', null,
      h('td', { class: 'num' }, String(a.instance)), h('td', { class: 'num' }, String(a.n)),
      h('td', { class: 'mono small' }, a.task_id), h('td', null, a.hostname || a.agent_id || '—'),
      h('td', null, pill(a.task_state || a.state), a.message ? h('span', { class: 'id' }, a.message) : null),
      h('td', { class: 'num' }, a.exit_code == null ? '—' : String(a.exit_code)),
      h('td', null, a.started ? between(a.started, a.finished) : '—'),
      h('td', null, a.agent_id ? sandboxLinks(a.agent_id, fwID, a.task_id) : '—'))),
    { empty: 'No attempts yet.' });
}

export default {
  title: 'Batch jobs',
  create(_parts, _query, ctx) {
    const body = h('div');
    const el = h('div', { id: 'jobs' }, h('h1', null, 'Batch jobs'),
      h('p', { class: 'sub' }, 'Jobs of the batch frameworks, read from their own APIs. Click a job for its recent runs, a run for its tasks.'),
      body);
    const openJobs = new Set();
    const openRuns = new Set();
    let last = null;
    const history = new Map(); // fw|job -> runs or Error
    const attempts = new Map(); // fw|run -> run status or Error

    function render() {
      if (!last) return;
      const out = [];
      for (const s of last.sections) {
        const rows = [];
        for (const js of s.jobs || []) {
          const j = js.job || {};
          const sp = j.spec || {};
          const key = `${s.f.fw.id}|${sp.name}`;
          const open = openJobs.has(key);
          const active = (js.active || [])[0];
          rows.push(h('tr', { class: 'expandable', dataset: { job: sp.name }, onclick: () => toggle(openJobs, key, () => { render(); ctx.refresh(); }) },
            h('td', null, h('span', { class: 'caret' }, open ? '▾' : '▸'), h('b', null, sp.name), h('span', { class: 'id' }, `version ${j.version}`)),
            h('td', { class: 'mono small' }, sp.schedule ? sp.schedule.cron : 'on demand',
              js.next_scheduled ? h('span', { class: 'id' }, 'next ', ago(js.next_scheduled)) : null),
            h('td', { class: 'num' }, String(sp.instances || 1)),
            h('td', null, (sp.depends_on || []).map((d) => h('span', { class: 'chip' }, d))),
            h('td', null, j.last_run ? [pill(j.last_run.state), h('span', { class: 'id' }, `run ${j.last_run.id}`)] : h('span', { class: 'muted' }, 'never run')),
            h('td', null, active ? progressBar(active.progress) : h('span', { class: 'muted' }, 'idle'),
              (js.active || []).length > 1 ? h('span', { class: 'id' }, `${js.active.length} active runs`) : null),
            h('td', null, ago(j.updated))));
          if (open) rows.push(h('tr', { class: 'detail' }, h('td', { colspan: 7 }, runsView(s.f, sp.name))));
        }
        out.push(panel(h('span', null, s.f.fw.name || s.f.fw.id, ' ', h('span', { class: 'muted small mono' }, s.f.fw.id)),
          s.error ? h('div', { class: 'body' }, errorBox(s.error)) : table(
            ['Job', 'Schedule', ['Instances', 'num'], 'Depends on', 'Last run', 'Active run', 'Updated'], rows,
            { empty: 'No jobs submitted.' }),
          h('a', { href: s.f.base, target: '_blank', rel: 'noopener' }, s.f.base)));
      }
      out.push(...notes('batch', last.d, 'jobs', 'Start one with “agora batch serve …”; it registers its API address as the framework’s web UI URL.'));
      body.replaceChildren(...out);
    }

    function runsView(f, job) {
      const runs = history.get(`${f.fw.id}|${job}`);
      if (!runs) return h('span', { class: 'muted' }, 'loading runs…');
      if (runs instanceof Error) return errorBox(runs);
      const rows = [];
      for (const rs of runs) {
        const r = rs.run || {};
        const key = `${f.fw.id}|${r.id}`;
        const open = openRuns.has(key);
        rows.push(h('tr', { class: 'expandable', dataset: { run: r.id }, onclick: (e) => { e.stopPropagation(); toggle(openRuns, key, () => { render(); ctx.refresh(); }); } },
          h('td', { class: 'num' }, h('span', { class: 'caret' }, open ? '▾' : '▸'), String(r.id)),
          h('td', { class: 'small' }, (r.trigger || '').toLowerCase(), r.cause ? h('span', { class: 'id' }, r.cause) : null),
          h('td', null, runState(r)),
          h('td', null, progressBar(rs.progress)),
          h('td', null, ago(r.created)),
          h('td', null, between(r.created, r.finished)),
          h('td', { class: 'small' }, r.message || '')));
        if (open) {
          const at = attempts.get(key);
          rows.push(h('tr', { class: 'detail' }, h('td', { colspan: 7 },
            !at ? h('span', { class: 'muted' }, 'loading tasks…') : at instanceof Error ? errorBox(at) : attemptsTable(f.fw.id, at.attempts))));
        }
      }
      return table([['Run', 'num'], 'Trigger', 'State', 'Progress', 'Started', 'Took', 'Message'], rows, { empty: 'No runs yet.' });
    }

    return {
      el,
      async update() {
        const d = await load('batch');
        const sections = await Promise.all(d.mine.map(async (f) => {
          try {
            return { f, jobs: await getJSON(`${f.base}/api/v1/jobs`) };
          } catch (e) {
            return { f, error: e };
          }
        }));
        const fetches = [];
        for (const s of sections) {
          for (const js of s.jobs || []) {
            const name = js.job?.spec?.name;
            const key = `${s.f.fw.id}|${name}`;
            if (!openJobs.has(key)) continue;
            fetches.push(getJSON(`${s.f.base}/api/v1/jobs/${encodeURIComponent(name)}/runs?limit=10`)
              .then((v) => history.set(key, v), (e) => history.set(key, e)));
          }
          for (const key of openRuns) {
            const [fwID, id] = key.split('|');
            if (fwID !== s.f.fw.id) continue;
            fetches.push(getJSON(`${s.f.base}/api/v1/runs/${encodeURIComponent(id)}?attempts=true`)
              .then((v) => attempts.set(key, v), (e) => attempts.set(key, e)));
          }
        }
        await Promise.all(fetches);
        last = { d, sections };
        render();
      },
    };
  },
};
