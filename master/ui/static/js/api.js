// Calls to the masters' HTTP API and to the bundled frameworks' APIs.

import { safeURL } from './dom.js';

/** HTTPError is an answer with a non-2xx status. */
export class HTTPError extends Error {
  constructor(status, message, url) {
    super(`${url}: ${status} ${message}`);
    this.status = status;
    this.url = url;
  }
}

/** MovedError says that the master answered with a redirect: it no
 * longer leads, and the UI must move to the leader's own page (a browser
 * cannot follow the redirect to another origin). */
export class MovedError extends Error {
  constructor(url) {
    super(`${url}: this master no longer leads; moving to the leader`);
    this.moved = true;
  }
}

async function request(url, timeoutMs) {
  // The masters' own routes are same-origin: do not follow their
  // redirects to the leader (that would be a cross-origin request the
  // leader does not allow), report them. Other origins (the frameworks'
  // APIs) are fetched as usual.
  const own = url.startsWith('/');
  let res;
  try {
    res = await fetch(url, {
      cache: 'no-store', redirect: own ? 'manual' : 'follow', signal: AbortSignal.timeout(timeoutMs || 8000),
    });
  } catch (e) {
    const err = new Error(`cannot reach ${url}: ${e.message}`);
    err.unreachable = own;
    throw err;
  }
  if (res.type === 'opaqueredirect') throw new MovedError(url);
  return res;
}

async function failure(res, url) {
  const text = (await res.text()).trim();
  let msg = text;
  try {
    const j = JSON.parse(text);
    msg = j.error || j.message || text;
  } catch {
    // not JSON: keep the text
  }
  return new HTTPError(res.status, msg || res.statusText, url);
}

/** getJSON fetches url and decodes its JSON body; a non-2xx answer
 * throws an HTTPError carrying the server's message. */
export async function getJSON(url, timeoutMs) {
  const res = await request(url, timeoutMs);
  if (!res.ok) throw await failure(res, url);
  return res.json();
}

/** api calls the master that serves the page. */
export const api = {
  health: () => getJSON('/health'),
  leader: () => getJSON('/api/v1/leader'),
  members: () => getJSON('/api/v1/members'),
  agents: () => getJSON('/api/v1/agents'),
  frameworks: () => getJSON('/api/v1/frameworks'),
  tasks: (q = {}) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== '' && v != null) p.set(k, v);
    return getJSON(`/api/v1/tasks?${p}`);
  },
};

function sandboxBase(agent, fw, task) {
  const e = encodeURIComponent;
  return `/api/v1/agents/${e(agent)}/sandbox/${e(fw)}/${e(task)}`;
}

/** reachable reports whether anything answers at url. It asks in
 * no-cors mode, which needs no CORS headers but shows nothing of the
 * answer: enough to pick a master to move to. */
export async function reachable(url) {
  try {
    await fetch(url, { mode: 'no-cors', cache: 'no-store', signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

/** sandboxURL is the master's route for a file in a task's sandbox; a
 * negative offset counts from the end of the file. */
export function sandboxURL(agent, fw, task, file, offset, length) {
  const path = String(file).split('/').map(encodeURIComponent).join('/');
  return `${sandboxBase(agent, fw, task)}/${path}?offset=${offset}&length=${length}`;
}

/** sandboxFiles lists the files of a task's sandbox: {files: [{path, size}]}. */
export function sandboxFiles(agent, fw, task) {
  return getJSON(sandboxBase(agent, fw, task));
}

/** readChunk reads up to length bytes of a sandbox file from offset. It
 * returns the bytes (so that offsets stay exact for any encoding), where
 * they start and the file's size, from the X-Agora-Offset and
 * X-Agora-Size headers (size is null when the master does not say). */
export async function readChunk(agent, fw, task, file, offset, length) {
  const url = sandboxURL(agent, fw, task, file, offset, length);
  const res = await request(url, 10000);
  if (!res.ok) throw await failure(res, url);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const start = parseInt(res.headers.get('X-Agora-Offset') ?? '', 10);
  const size = parseInt(res.headers.get('X-Agora-Size') ?? '', 10);
  return {
    bytes,
    offset: Number.isNaN(start) ? Math.max(0, offset) : start,
    size: Number.isNaN(size) ? null : size,
  };
}

// ---- the bundled frameworks ----

const probes = new Map();
const RETRY_MS = 15000;

function base(u) {
  return u.replace(/\/+$/, '');
}

/** probe finds out which API a framework serves at base: the batch
 * framework answers GET /api/v1/info, the service framework GET /v1/apps. */
async function probe(b) {
  let err = null;
  try {
    const info = await getJSON(`${b}/api/v1/info`, 4000);
    if (info && typeof info === 'object' && 'framework_id' in info) return { kind: 'batch' };
  } catch (e) {
    err = e;
  }
  try {
    const apps = await getJSON(`${b}/v1/apps`, 4000);
    if (Array.isArray(apps)) return { kind: 'service' };
  } catch (e) {
    err = e;
  }
  return { kind: 'unknown', error: err ? err.message : 'serves neither the batch nor the service API' };
}

/** discover probes every framework that set a webui_url and returns
 * [{fw, base, kind, error}] with kind 'batch', 'service' or 'unknown'.
 * Answers are cached; failed probes are retried after 15 s. */
export async function discover(frameworks) {
  const list = frameworks.filter((f) => safeURL(f.webui_url));
  return Promise.all(list.map(async (fw) => {
    const b = base(safeURL(fw.webui_url));
    const key = `${fw.id}|${b}`;
    let p = probes.get(key);
    if (!p || (p.kind === 'unknown' && Date.now() - p.at > RETRY_MS)) {
      p = { ...(await probe(b)), at: Date.now() };
      probes.set(key, p);
    }
    return { fw, base: b, kind: p.kind, error: p.error };
  }));
}
