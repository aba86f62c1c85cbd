/**
 * GET /oauth/callback: where Google and Microsoft send the browser back after
 * the person granted (or refused) access. Completes the connection
 * (src/oauth/connect.ts) and answers with a short page saying what happened:
 * 200 connected; 400 for a state that is unknown, used or expired, or access
 * refused; 403 when the person who started it may no longer connect inboxes;
 * 409 when the address's domain is not the organisation's; 503 when the
 * provider could not be reached. With a client app (APP_URL), the browser is
 * sent back to it instead (303 to APP_URL/inbox-connected with the outcome in
 * the query string). The query string (code, state) is never logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { SecretBox } from '../crypto/secrets.ts';
import { errorFields, loggerFor } from '../log/logger.ts';
import type { Route } from '../server/http.ts';
import { completeConnection, ConnectError } from './connect.ts';
import type { OAuthConfig } from './providers.ts';

const log = loggerFor('oauth');
export const OAUTH_CALLBACK_PATH = '/oauth/callback';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STATUS: Record<ConnectError['code'], number> = {
  NOT_CONFIGURED: 400, INVALID_STATE: 400, EXPIRED: 400, REFUSED: 400, FORBIDDEN: 403, CONFLICT: 409, UNAVAILABLE: 503,
};

function answer(res: ServerResponse, status: number, title: string, text: string) {
  const body = Buffer.from(`<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body style="font-family:sans-serif;max-width:40rem;margin:2rem auto"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>`);
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length), 'cache-control': 'no-store', 'referrer-policy': 'no-referrer',
  });
  res.end(body);
}

/** Where the client app (APP_URL) is sent the outcome of a connection. */
export const APP_RETURN_PATH = '/inbox-connected';

/**
 * The browser back to the client app: `status=connected&email=…&emailAccountId=…`,
 * or `status=failed&code=<INVALID_STATE|EXPIRED|REFUSED|FORBIDDEN|CONFLICT|UNAVAILABLE|NOT_CONFIGURED|INTERNAL>&message=…`.
 */
function backToApp(res: ServerResponse, appUrl: string, outcome: Record<string, string>) {
  const target = new URL(appUrl);
  target.pathname = `${target.pathname.replace(/\/$/, '')}${APP_RETURN_PATH}`; // under the app's own path, if it has one
  target.search = '';
  for (const [k, v] of Object.entries(outcome)) target.searchParams.set(k, v);
  res.writeHead(303, { location: target.toString(), 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'content-length': '0' });
  res.end();
}

export function oauthCallbackRoutes(options: { ownerPool: pg.Pool; config: OAuthConfig; secretBox: SecretBox; appUrl?: string }): Route[] {
  const { appUrl } = options;
  return [{
    method: 'GET',
    path: OAUTH_CALLBACK_PATH,
    handler: async (_req: IncomingMessage, res: ServerResponse, url: URL) => {
      const q = url.searchParams;
      try {
        const connected = await completeConnection(options.ownerPool, options.config, options.secretBox, {
          state: q.get('state'), code: q.get('code'), error: q.get('error'),
        });
        log.info({ tenantId: connected.tenantId, emailAccountId: connected.emailAccountId, provider: connected.provider }, 'inbox connected over OAuth');
        if (appUrl) backToApp(res, appUrl, { status: 'connected', email: connected.email, emailAccountId: connected.emailAccountId });
        else answer(res, 200, 'Inbox connected', `${connected.email} is connected and can send. You can close this page.`);
      } catch (error) {
        if (!(error instanceof ConnectError)) {
          log.error(errorFields(error), 'OAuth callback failed');
          const message = 'Something went wrong on our side; nothing was connected. Try again.';
          if (appUrl) backToApp(res, appUrl, { status: 'failed', code: 'INTERNAL', message });
          else answer(res, 500, 'Not connected', message);
          return;
        }
        log.info({ code: error.code }, 'OAuth connection refused');
        if (appUrl) backToApp(res, appUrl, { status: 'failed', code: error.code, message: error.message });
        else answer(res, STATUS[error.code], 'Not connected', error.message);
      }
    },
  }];
}
