/**
 * The sandbox's HTTP endpoints on the API server (development only; no
 * authentication, like any local mail catcher: they show every tenant's
 * caught mail to whoever reaches the server, which listens on 127.0.0.1 by
 * default):
 *
 *   GET    /sandbox                  the caught messages as an HTML page
 *   GET    /sandbox/messages         { catcher, dns, messages } as JSON, newest first (?to=<address> filters by recipient)
 *   DELETE /sandbox/messages         forgets every caught message
 *   GET    /sandbox/messages/<id>    one message: its summary, text, HTML and headers
 *   GET    /sandbox/messages/<id>/raw  its source as received
 */
import type { Route } from '../server/http.ts';
import { sendError, sendJson } from '../server/http.ts';
import { sandboxPage, type SandboxInfo } from './page.ts';
import type { CaughtStore } from './store.ts';

const MESSAGE_PREFIX = '/sandbox/messages/';

export function sandboxRoutes(store: CaughtStore, info: SandboxInfo): Route[] {
  return [
    {
      method: 'GET',
      path: '/sandbox',
      handler: (_req, res) => {
        const html = Buffer.from(sandboxPage(info, store.list()));
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(html.length), 'cache-control': 'no-store' });
        res.end(html);
      },
    },
    {
      method: 'GET',
      path: '/sandbox/messages',
      handler: (_req, res, url) => {
        const to = url.searchParams.get('to')?.toLowerCase();
        const messages = store.list().filter((m) => !to || [...m.envelope.rcptTo, ...m.to].some((a) => a.toLowerCase().includes(to)));
        sendJson(res, 200, { ...info, messages }, { 'cache-control': 'no-store' });
      },
    },
    { method: 'DELETE', path: '/sandbox/messages', handler: (_req, res) => sendJson(res, 200, { deleted: store.clear() }) },
    {
      method: 'GET',
      path: MESSAGE_PREFIX,
      handler: (_req, res, url) => {
        const [id, part, ...rest] = url.pathname.slice(MESSAGE_PREFIX.length).split('/');
        const found = id ? store.get(id) : undefined;
        if (!found || rest.length > 0 || (part !== undefined && part !== 'raw')) {
          return sendError(res, 404, 'NOT_FOUND', `The sandbox has no message at ${url.pathname} (it keeps the newest SANDBOX_MAX_MESSAGES, in memory).`);
        }
        if (part === 'raw') {
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(found.raw.length), 'cache-control': 'no-store' });
          return void res.end(found.raw);
        }
        sendJson(res, 200, { ...found.message, ...found.content }, { 'cache-control': 'no-store' });
      },
    },
  ];
}
