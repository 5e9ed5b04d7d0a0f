// A stand-in for the third-party HTTP API that Downloaders pull from, shaped like EVE Online's
// ESI (`GET /v2/status`). It exists so that the local AWS can proxy real HTTP traffic and tests
// can check what arrived. Plain Node, no dependencies, loopback only.
//
// Endpoints:
//   GET  /v2/status                    {"players", "server_version", "start_time"}, Date header
//   GET  /v2/secure/status             same, but 401 unless `Authorization: Bearer <token>`
//   GET  /v2/markets/orders?page=N     one page of orders, with the page count in `X-Pages`
//                                      (`type_id=T` gives orders of that type, ids unique per type)
//   GET  /v2/cursor?cursor=C           `{items, next}`: pages linked by an opaque cursor; the last
//                                      page has `"next": null`; a bad cursor answers 400
//   GET  /v2/links[/N]                 `{items, next}`: pages linked by a path; the last page has
//                                      no `next`
//   GET  /v2/universe/systems/ID       `{system_id, name, security_status}`
//   GET  /v2/ping                      `pong` as text/plain (a body that is not JSON)
//   ANY  /v2/echo                      {"method", "body"}: the request body, parsed if JSON
//   POST /_control                     switches for later requests (see CONTROL_KEYS)
//   GET  /_requests                    the recent requests received (method, path, headers...)
//   DELETE /_requests                  forgets them
//   GET  /_health                      readiness probe, never recorded
//
// Switches come from `POST /_control` (for every request, or, with "scope", only for requests
// carrying `?scope=<scope>`), or from the query string of a single request (`?failStatus=503`).
// Scoping keeps tests that share one upstream from disturbing each other.
//
// Usage: node upstream.mjs [--port N] [--port-file PATH]   (port 0 picks a free one)
// The bearer token is UPSTREAM_TOKEN (default "local-test-token").

import http from 'node:http';
import { writeFileSync, renameSync } from 'node:fs';

/** Request settings a test may switch; all optional. */
const CONTROL_KEYS = [
  'delayMs', // wait this long before answering
  'failStatus', // answer with this status and an error body instead
  'failCount', // with failStatus: only the next N matching requests fail
  'bodyBytes', // pad the JSON body to about this many bytes
  'players', // the player count /v2/status reports
  'pages', // the page count of /v2/markets/orders, /v2/cursor and /v2/links
  'perPage', // the orders or items on each page (3)
];

/** How many received requests /_requests remembers. */
const REQUEST_LOG_LIMIT = 500;

/** The part of a recorded body kept, so that a large upload cannot fill memory. */
const RECORDED_BODY_CHARS = 4096;

const SERVER_VERSION = '2215477';
const START_TIME = new Date(Date.now() - 6 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

function parseArgs(argv) {
  const args = { port: Number(process.env.UPSTREAM_PORT ?? 0), portFile: undefined };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') args.port = Number(argv[++i]);
    else if (argv[i] === '--port-file') args.portFile = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return args;
}

/** Keeps the switches: one global set and one per scope. */
class Controls {
  #global = {};
  #scoped = new Map();

  apply(body) {
    if (body.reset) {
      this.#global = {};
      this.#scoped.clear();
    }
    const settings = {};
    for (const key of CONTROL_KEYS) {
      if (body[key] !== undefined && body[key] !== null) settings[key] = Number(body[key]);
    }
    if (body.scope) this.#scoped.set(String(body.scope), settings);
    else if (!body.reset || Object.keys(settings).length > 0) this.#global = settings;
  }

  /** The settings for one request: query beats scope beats global. A failCount is consumed. */
  forRequest(query) {
    const scope = query.get('scope');
    const scoped = scope !== null ? this.#scoped.get(scope) : undefined;
    const base = scoped ?? this.#global;
    const settings = { ...base };
    for (const key of CONTROL_KEYS) {
      if (query.has(key)) settings[key] = Number(query.get(key));
    }
    if (!query.has('failStatus') && base.failStatus !== undefined && base.failCount !== undefined) {
      if (base.failCount > 0) base.failCount -= 1;
      else delete settings.failStatus;
    }
    return settings;
  }

  snapshot() {
    return { global: this.#global, scoped: Object.fromEntries(this.#scoped) };
  }
}

const controls = new Controls();
const received = [];
let nextRequestId = 1;

function sendJson(res, status, body, extraHeaders = {}, bodyBytes = undefined) {
  let payload = JSON.stringify(body);
  if (bodyBytes !== undefined && Number.isFinite(bodyBytes) && payload.length < bodyBytes) {
    // Grow the object by one string field so the body stays valid JSON of the asked size.
    const filler = 'x'.repeat(Math.max(0, bodyBytes - payload.length - 14));
    payload = JSON.stringify({ ...body, padding: filler });
  }
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=UTF-8',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'public, max-age=30',
    ...extraHeaders,
  });
  res.end(payload);
}

function statusBody(settings) {
  return {
    players: settings.players ?? 20000 + Math.floor(Math.random() * 10000),
    server_version: SERVER_VERSION,
    start_time: START_TIME,
  };
}

function ordersPage(page, typeId, perPage) {
  const orders = [];
  // Without type_id the ids are those the orders always had (page 2: 2000, 2001, 2002).
  const base = typeId === undefined ? 0 : typeId * 1_000_000;
  for (let i = 0; i < perPage; i++) {
    orders.push({
      order_id: base + page * 1000 + i,
      type_id: typeId ?? 34,
      is_buy_order: i % 2 === 0,
      price: 4.5 + i,
      volume_remain: 1000 * (i + 1),
    });
  }
  return orders;
}

function handleApi(req, res, url, body, settings) {
  if (settings.failStatus !== undefined) {
    sendJson(res, settings.failStatus, { error: `failing on purpose with ${settings.failStatus}` });
    return;
  }
  if (url.pathname === '/v2/echo') {
    let parsed = body;
    try {
      parsed = JSON.parse(body);
    } catch {
      // not JSON: echoed as text
    }
    sendJson(res, 200, { method: req.method, body: parsed });
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendJson(res, 405, { error: 'method not allowed' }, { Allow: 'GET, HEAD' });
    return;
  }
  switch (url.pathname) {
    case '/v2/status':
    case '/v2/status/':
      sendJson(res, 200, statusBody(settings), {}, settings.bodyBytes);
      return;
    case '/v2/secure/status':
    case '/v2/secure/status/': {
      const token = process.env.UPSTREAM_TOKEN || 'local-test-token';
      if (req.headers.authorization !== `Bearer ${token}`) {
        const error = req.headers.authorization ? 'invalid token' : 'authorization required';
        sendJson(res, 401, { error }, { 'WWW-Authenticate': 'Bearer realm="upstream"' });
        return;
      }
      sendJson(res, 200, statusBody(settings), {}, settings.bodyBytes);
      return;
    }
    case '/v2/ping':
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' });
      res.end('pong');
      return;
    case '/v2/markets/orders':
    case '/v2/markets/orders/': {
      const pages = settings.pages ?? 3;
      const page = Number(url.searchParams.get('page') ?? '1');
      if (!Number.isInteger(page) || page < 1 || page > pages) {
        sendJson(
          res,
          404,
          { error: 'Requested page does not exist!' },
          { 'X-Pages': String(pages) },
        );
        return;
      }
      const typeText = url.searchParams.get('type_id');
      const typeId = typeText !== null && /^[0-9]+$/.test(typeText) ? Number(typeText) : undefined;
      sendJson(
        res,
        200,
        ordersPage(page, typeId, settings.perPage ?? 3),
        { 'X-Pages': String(pages) },
        settings.bodyBytes,
      );
      return;
    }
    case '/v2/cursor':
    case '/v2/cursor/': {
      const pages = settings.pages ?? 3;
      const cursor = url.searchParams.get('cursor');
      const page = cursor === null ? 1 : pageOfCursor(cursor);
      if (page === undefined || page > pages) {
        sendJson(res, 400, { error: 'invalid cursor' });
        return;
      }
      const next = page < pages ? cursorOfPage(page + 1) : null;
      sendJson(res, 200, { items: linkedItems('c', page, settings), next }, {}, settings.bodyBytes);
      return;
    }
    default:
      if (url.pathname === '/v2/links' || url.pathname.startsWith('/v2/links/')) {
        const pages = settings.pages ?? 3;
        const rest = url.pathname.slice('/v2/links'.length).replace(/^\//, '');
        const page = rest === '' ? 1 : Number(rest);
        if (!Number.isInteger(page) || page < 1 || page > pages) {
          sendJson(res, 404, { error: 'Requested page does not exist!' });
          return;
        }
        const body = { items: linkedItems('l', page, settings) };
        if (page < pages) body.next = `/v2/links/${page + 1}`;
        sendJson(res, 200, body, {}, settings.bodyBytes);
        return;
      }
      if (/^\/v2\/universe\/systems\/[0-9]+\/?$/.test(url.pathname)) {
        const id = Number(url.pathname.split('/')[4]);
        sendJson(res, 200, {
          system_id: id,
          name: `System-${id}`,
          security_status: Math.round(((id % 20) / 20) * 100) / 100,
        });
        return;
      }
      sendJson(res, 404, { error: 'Not found' });
  }
}

/** An opaque cursor for a page of /v2/cursor, as APIs hand out (base64url, no padding). */
function cursorOfPage(page) {
  return Buffer.from(`page:${page}`).toString('base64url');
}

function pageOfCursor(cursor) {
  const match = /^page:([1-9][0-9]*)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : undefined;
}

/** The items of one page of /v2/cursor or /v2/links: ids unique across pages. */
function linkedItems(prefix, page, settings) {
  const items = [];
  for (let i = 0; i < (settings.perPage ?? 3); i++) {
    items.push({ id: `${prefix}${page}-${i}`, page, value: page * 10 + i });
  }
  return items;
}

function handleInternal(req, res, url, body) {
  if (url.pathname === '/_health') {
    sendJson(res, 200, { ok: true });
  } else if (url.pathname === '/_control' && req.method === 'POST') {
    let parsed;
    try {
      parsed = body.length > 0 ? JSON.parse(body) : {};
    } catch {
      sendJson(res, 400, { error: 'body must be JSON' });
      return;
    }
    controls.apply(parsed);
    sendJson(res, 200, controls.snapshot());
  } else if (url.pathname === '/_control' && req.method === 'GET') {
    sendJson(res, 200, controls.snapshot());
  } else if (url.pathname === '/_requests' && req.method === 'GET') {
    const scope = url.searchParams.get('scope');
    const path = url.searchParams.get('path');
    const matching = received.filter(
      (r) => (scope === null || r.query.scope === scope) && (path === null || r.path === path),
    );
    sendJson(res, 200, { requests: matching });
  } else if (url.pathname === '/_requests' && req.method === 'DELETE') {
    received.length = 0;
    sendJson(res, 200, { requests: [] });
  } else {
    sendJson(res, 404, { error: 'Not found' });
  }
}

function record(req, url, body) {
  received.push({
    id: nextRequestId++,
    time: new Date().toISOString(),
    method: req.method,
    path: url.pathname,
    rawUrl: req.url,
    query: Object.fromEntries(url.searchParams),
    // Raw pairs keep the original spelling and repeated headers.
    headers: Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]),
    ),
    body: body.slice(0, RECORDED_BODY_CHARS),
  });
  if (received.length > REQUEST_LOG_LIMIT) received.splice(0, received.length - REQUEST_LOG_LIMIT);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://upstream.local');
    if (url.pathname.startsWith('/_')) {
      handleInternal(req, res, url, body);
      return;
    }
    record(req, url, body);
    const settings = controls.forRequest(url.searchParams);
    const answer = () => handleApi(req, res, url, body, settings);
    if (settings.delayMs > 0) setTimeout(answer, settings.delayMs);
    else answer();
  });
});

const args = parseArgs(process.argv.slice(2));
server.listen(args.port, '127.0.0.1', () => {
  const { port } = server.address();
  if (args.portFile) {
    // Written whole and then renamed, so a reader never sees half a number.
    writeFileSync(`${args.portFile}.tmp`, `${port}\n`);
    renameSync(`${args.portFile}.tmp`, args.portFile);
  }
  console.log(`upstream listening on http://127.0.0.1:${port}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
