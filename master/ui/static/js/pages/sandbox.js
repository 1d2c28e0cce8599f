// Sandbox viewer: a file of a task's sandbox (stdout, stderr, or any file
// the sandbox listing shows), read through the master
// (GET /api/v1/agents/{agent}/sandbox/{framework}/{task}/{file}) a chunk
// at a time: it opens on the file's last part and follows it while the
// task runs.

import {
  api, readChunk, sandboxFiles, sandboxURL,
} from '../api.js';
import {
  fmtBytes, h, pill,
} from '../dom.js';

// CHUNK stays well below what one NATS message carries between the
// master and the agent.
const CHUNK = 256 * 1024;
const MAX_CHUNKS_PER_POLL = 8;
const KEEP_CHARS = 2 * 1024 * 1024;
const TERMINAL = ['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST', 'TASK_DROPPED', 'TASK_GONE'];

export default {
  title: 'Sandbox',
  create(parts) {
    const [agent, fw, task, ...rest] = parts;
    const file = rest.join('/') || 'stdout';
    const e = encodeURIComponent;
    const link = (f) => `#/sandbox/${e(agent)}/${e(fw)}/${e(task)}/${f.split('/').map(e).join('/')}`;
    const tabs = h('span', { class: 'tabs' });
    const follow = h('input', { type: 'checkbox', checked: true, id: 'follow' });
    const size = h('span', { class: 'muted small', id: 'log-size' });
    const state = h('span');
    const pre = h('pre', { class: 'log', id: 'log', tabindex: '0' });
    const status = h('div', { id: 'log-status' });
    const info = h('dl', { class: 'kv' });
    const el = h('div', { id: 'sandbox' },
      h('h1', null, `${file} of `, h('span', { class: 'mono' }, task || '?')),
      h('p', { class: 'sub' }, h('a', { href: `#/tasks?framework=${e(fw || '')}` }, '← tasks of this framework')),
      h('section', { class: 'panel' },
        h('div', { class: 'body' }, info),
        h('div', { class: 'logbar' }, tabs, state,
          h('label', { class: 'small' }, follow, ' follow'), size, h('span', { class: 'spacer' }),
          h('a', { href: sandboxURL(agent, fw, task, file, 0, 1 << 20), target: '_blank', rel: 'noopener', class: 'small' }, 'raw (first MiB) ↗')),
        status,
        pre));

    function setTabs(files) {
      const names = ['stdout', 'stderr'];
      for (const f of files || []) if (!names.includes(f.path) && !f.path.startsWith('.agora')) names.push(f.path);
      if (!names.includes(file)) names.push(file);
      const sizes = Object.fromEntries((files || []).map((f) => [f.path, f.size]));
      tabs.replaceChildren(...names.map((f) => h('a', {
        href: link(f), class: f === file ? 'active' : null, title: sizes[f] != null ? fmtBytes(sizes[f]) : null,
      }, f)));
    }
    setTabs(null);

    const decoder = new TextDecoder();
    let next = null; // where the next read starts; null: not read yet
    let fileSize = null;
    let skipped = 0; // bytes before the first read (the viewer opens on the tail)
    let text = '';
    let dropped = 0; // characters dropped to bound memory
    let ended = false;
    let caughtUp = false;

    function show() {
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      const notes = [];
      if (skipped) notes.push(h('span', { class: 'note' }, `… the first ${fmtBytes(skipped)} are not shown (see raw) …\n`));
      if (dropped) notes.push(h('span', { class: 'note' }, `… ${dropped} more characters scrolled out …\n`));
      pre.replaceChildren(...notes, text);
      if (!text) pre.append(h('span', { class: 'note' }, ended ? `(${file} is empty)` : `(nothing in ${file} yet)`));
      if (atBottom || follow.checked) pre.scrollTop = pre.scrollHeight;
      size.textContent = fileSize != null ? fmtBytes(fileSize) : fmtBytes(next || 0);
    }

    async function readMore() {
      for (let i = 0; i < MAX_CHUNKS_PER_POLL; i++) {
        const r = await readChunk(agent, fw, task, file, next == null ? -CHUNK : next, CHUNK);
        if (next == null) skipped = r.offset;
        next = r.offset + r.bytes.length;
        fileSize = r.size;
        if (r.bytes.length) text += decoder.decode(r.bytes, { stream: true });
        if (text.length > KEEP_CHARS) {
          const cut = text.length - KEEP_CHARS / 2;
          dropped += cut;
          text = text.slice(cut);
        }
        caughtUp = r.size != null ? next >= r.size : r.bytes.length < CHUNK;
        if (caughtUp) return;
      }
    }

    let infoKey = '';
    let first = true;
    return {
      el,
      async update() {
        if (!agent || !fw || !task) {
          status.replaceChildren(h('div', { class: 'error' }, 'This link names no task.'));
          return;
        }
        // The task's record and the sandbox's files, while they can change.
        if (!ended) {
          const [page, agents, listing] = await Promise.all([
            api.tasks({ agent, framework: fw, limit: 10000 }), api.agents(), sandboxFiles(agent, fw, task).catch(() => null)]);
          const t = page.tasks.find((x) => x.id === task);
          const a = agents.find((x) => x.id === agent);
          if (listing) setTabs(listing.files);
          const key = JSON.stringify([t, a && a.hostname, listing && listing.sandbox]);
          if (key !== infoKey) {
            infoKey = key;
            info.replaceChildren(...[
              h('dt', null, 'Task'), h('dd', { class: 'mono' }, task, t && t.name && t.name !== task ? ` (${t.name})` : ''),
              h('dt', null, 'Framework'), h('dd', { class: 'mono' }, fw),
              h('dt', null, 'Agent'), h('dd', null, a ? a.hostname : '', h('span', { class: 'muted mono' }, ` ${agent}`)),
              listing && listing.sandbox ? [h('dt', null, 'Sandbox'), h('dd', { class: 'mono small' }, listing.sandbox)] : null,
              t && t.message ? [h('dt', null, 'Message'), h('dd', null, t.message)] : null,
            ].flat().filter(Boolean));
            state.replaceChildren(t ? pill(t.state) : h('span', { class: 'muted small' }, 'task not known to the master'));
          }
          ended = !t || TERMINAL.includes(t.state);
        }
        // An ended task's files do not grow: stop once they are read.
        if (!first && ((ended && caughtUp) || !follow.checked)) return;
        try {
          await readMore();
          status.replaceChildren();
        } catch (err) {
          status.replaceChildren(h('div', { class: 'error', id: 'log-error' }, `Cannot read ${file}: ${err.message}`));
          if (first) pre.replaceChildren(h('span', { class: 'note' }, `(${file} could not be read)`));
          first = false;
          return;
        }
        first = false;
        show();
      },
    };
  },
};
