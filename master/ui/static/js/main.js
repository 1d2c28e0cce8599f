// The UI's shell: routing between pages, the 2-second poll loop, the
// leader badge, and the move to the leader's UI when this master is a
// standby (standbys redirect API reads to the leader, which a browser
// cannot follow across origins).

import { api, reachable } from './api.js';
import { errorBox, h, hostURL } from './dom.js';
import overview from './pages/overview.js';
import agents from './pages/agents.js';
import frameworks from './pages/frameworks.js';
import tasks from './pages/tasks.js';
import sandbox from './pages/sandbox.js';
import jobs from './pages/jobs.js';
import apps from './pages/apps.js';

const POLL_MS = 2000;
const pages = { overview, agents, frameworks, tasks, sandbox, jobs, apps };

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const live = document.getElementById('live');
const liveText = document.getElementById('live-text');
const leaderBadge = document.getElementById('leader-badge');
const servedBy = document.getElementById('served-by');
const pageError = h('div', { class: 'page-error' });

let page = null;
let timer = 0;
let gen = 0;
let paused = false;
let lastOK = 0;
const ctx = { leader: null, self: null, refresh: () => tick() };

/** parseHash splits "#/tasks?state=X" into a route, path parts and query. */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?', 2);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const route = parts.length ? parts[0] : 'overview';
  return { route: pages[route] ? route : 'overview', parts: parts.slice(1), query: new URLSearchParams(query || '') };
}

function mount() {
  const { route, parts, query } = parseHash();
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.route === route || (route === 'sandbox' && a.dataset.route === 'tasks'));
  }
  const def = pages[route];
  page = def.create(parts, query, ctx);
  page.title = def.title;
  pageError.replaceChildren();
  main.replaceChildren(pageError, page.el);
  document.body.dataset.route = route;
  setTitle();
  tick();
}

function setTitle() {
  const l = ctx.leader ? ` · ${ctx.leader.name}` : '';
  document.title = `${page ? page.title : 'Agora'} · Agora${l}`;
}

function showBanner(text, bad) {
  if (!text) {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  banner.className = bad ? 'banner bad' : 'banner';
  banner.replaceChildren(...(Array.isArray(text) ? text : [text]));
}

function setLive(state, text) {
  live.className = `live ${state}`;
  liveText.textContent = text;
}

/** members remembers the masters' HTTP addresses, refreshed every
 * 10 s, so that the page can move to another master when this one dies. */
let members = [];
let membersAt = 0;

async function refreshMembers() {
  if (Date.now() - membersAt < 10000) return;
  membersAt = Date.now();
  try {
    members = (await api.members()).filter((m) => m.http).map((m) => ({ name: m.name, url: hostURL(m.http, '/') }));
  } catch {
    // keep the last list
  }
}

/** failover moves the page to another master when this one cannot be
 * reached; a standby then moves it on to the leader. */
async function failover() {
  const others = members.filter((m) => new URL(m.url).origin !== location.origin);
  for (const m of others) {
    if (await reachable(`${m.url}health`)) {
      showBanner(`This master cannot be reached; opening ${m.name} at ${m.url}`, true);
      location.replace(m.url + location.hash);
      return true;
    }
  }
  return false;
}

/** checkLeader learns who leads; it returns false when the page is
 * being moved to the leader's UI. */
async function checkLeader() {
  const [self, leader] = await Promise.all([api.health(), api.leader().catch(() => null)]);
  ctx.self = self;
  ctx.leader = leader;
  servedBy.textContent = `served by ${self.name} (${self.raft_state})`;
  leaderBadge.replaceChildren(leader ? h('span', null, 'leader ', h('b', null, leader.name), ` · term ${leader.term}`) : 'no leader');
  setTitle();
  refreshMembers();
  if (self.leader) {
    showBanner(null);
    return true;
  }
  const target = leader && leader.http ? hostURL(leader.http, '/') : null;
  if (target && new URL(target).origin !== location.origin) {
    showBanner(`${self.name} is a standby: opening the leader ${leader.name}'s UI at ${target}`);
    location.replace(target + location.hash);
    return false;
  }
  showBanner(`${self.name} is a standby and knows no leader yet (raft state ${self.raft_state}); retrying every 2 s.`, true);
  return true;
}

async function tick() {
  clearTimeout(timer);
  const my = ++gen;
  if (!paused && !document.hidden) {
    try {
      if (!(await checkLeader())) return;
      await page.update();
      pageError.replaceChildren();
      lastOK = Date.now();
      setLive('ok', 'live');
    } catch (e) {
      // A master that lost the lead redirects API reads: follow the
      // leader now rather than at the next poll.
      if (e.moved && !(await checkLeader().catch(() => true))) return;
      if (e.unreachable && (await failover())) return;
      setLive('err', lastOK ? `stale ${Math.round((Date.now() - lastOK) / 1000)}s` : 'error');
      live.title = e.message;
      pageError.replaceChildren(errorBox(e));
      if (!ctx.leader) showBanner(`Cannot read the cluster state: ${e.message}`, true);
    }
  }
  if (my === gen) timer = setTimeout(tick, POLL_MS);
}

live.addEventListener('click', () => {
  paused = !paused;
  if (paused) setLive('paused', 'paused');
  tick();
});
document.addEventListener('visibilitychange', () => { if (!document.hidden) tick(); });
window.addEventListener('hashchange', mount);
mount();
