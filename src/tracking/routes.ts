/**
 * The public tracking endpoints on the API server. No authentication: the
 * signed message token is the authority, and it is verified before any
 * database access, so a forged or damaged token costs nothing and records
 * nothing.
 *
 *   GET  /t/o/<token>.gif             open pixel: answers at once, then records an open
 *   GET  /t/c/<token>?u=<url>&s=<sig> click: records a click, 302 to the signed target only
 *   GET  /u/<token>                   unsubscribe confirmation page (changes nothing)
 *   POST /u/<token>                   RFC 8058 one-click unsubscribe (List-Unsubscribe=One-Click)
 *
 * HEAD requests (link scanners) get the same answer and record nothing.
 */
import { PREVIEW_MESSAGE_ID } from '../sending/render.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { Route } from '../server/http.ts';
import {
  sendBadRequestPage,
  sendConfirmationPage,
  sendInvalidLinkPage,
  sendUnsubscribedPage,
} from './pages.ts';
import { PIXEL_HEADERS, NO_STORE_HEADERS, TRANSPARENT_GIF } from './pixel.ts';
import { clientIp, readOneClickForm, userAgent } from './request.ts';
import { makeTrackingStore, type Requester } from './store.ts';
import type { MessageRef, TrackingTokens } from './tokens.ts';
import { loggerFor } from '../log/logger.ts';

const log = loggerFor('tracking');

export const OPEN_PREFIX = '/t/o/';
export const CLICK_PREFIX = '/t/c/';
export const UNSUBSCRIBE_PREFIX = '/u/';


export interface TrackingRouteOptions {
  /** The API's owner pool: the endpoints only call functions/150-tracking.sql. */
  pool: pg.Pool;
  tokens: TrackingTokens;
  /** Take the client address from X-Forwarded-For (only behind a reverse proxy you run). */
  trustProxy?: boolean;
  /** Where failures to record an open or a click are reported (the recipient gets the image or the redirect anyway). */
  onError?: (error: Error) => void;
}

/** The token from /prefix/<token>[suffix]; null when the path holds anything else. */
function tokenFrom(pathname: string, prefix: string, suffix = ''): string | null {
  let token = pathname.slice(prefix.length);
  if (suffix && token.endsWith(suffix)) token = token.slice(0, -suffix.length);
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token) ? token : null;
}

/** Only web links are followed, whatever was signed. */
function safeTarget(target: string): string | null {
  try {
    const url = new URL(target);
    return url.protocol === 'http:' || url.protocol === 'https:' ? target : null;
  } catch {
    return null;
  }
}

export function trackingRoutes(options: TrackingRouteOptions): Route[] {
  const { tokens } = options;
  const store = makeTrackingStore(options.pool);
  const onError = options.onError ?? ((error: Error) => log.error({ err: { message: error.message } }, 'recording a tracking event failed'));
  const who = (req: IncomingMessage): Requester => ({ ip: clientIp(req, options.trustProxy ?? false), userAgent: userAgent(req) });
  const verify = (pathname: string, prefix: string, suffix?: string): { token: string; ref: MessageRef } | null => {
    const token = tokenFrom(pathname, prefix, suffix);
    const ref = token ? tokens.parseMessageToken(token) : null;
    // The nil message id marks links of a message that does not exist (old previews): never live.
    return token && ref && ref.messageId !== PREVIEW_MESSAGE_ID ? { token, ref } : null;
  };

  const openPixel = (record: boolean) => (req: IncomingMessage, res: ServerResponse, url: URL) => {
    // The image goes out first, whatever the token: mail clients wait for it.
    res.writeHead(200, PIXEL_HEADERS);
    res.end(TRANSPARENT_GIF);
    const verified = verify(url.pathname, OPEN_PREFIX, '.gif');
    if (!record || !verified) return;
    store.recordEngagement(verified.ref, 'open', who(req)).catch(onError);
  };

  const click = (record: boolean) => async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const verified = verify(url.pathname, CLICK_PREFIX);
    const target = url.searchParams.get('u');
    const signature = url.searchParams.get('s');
    if (!verified || target === null || signature === null || !tokens.verifyTarget(verified.token, target, signature)) {
      sendInvalidLinkPage(res, 400);
      return;
    }
    const location = safeTarget(target);
    if (!location) {
      sendBadRequestPage(res, 400, 'INVALID_TARGET', 'This link does not lead to a web page (only http and https links are followed).');
      return;
    }
    // A valid signature means we wrote this link: follow it even if the
    // message is gone (then nothing is recorded) or the recording fails.
    if (record) await store.recordEngagement(verified.ref, 'click', who(req), target).catch(onError);
    res.writeHead(302, { location, 'referrer-policy': 'no-referrer', ...NO_STORE_HEADERS });
    res.end();
  };

  const confirmationPage = async (_req: IncomingMessage, res: ServerResponse, url: URL) => {
    const verified = verify(url.pathname, UNSUBSCRIBE_PREFIX);
    const preview = verified ? await store.unsubscribePreview(verified.ref) : null;
    if (!preview) {
      sendInvalidLinkPage(res);
      return;
    }
    sendConfirmationPage(res, preview);
  };

  const unsubscribe = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const verified = verify(url.pathname, UNSUBSCRIBE_PREFIX);
    if (!verified) {
      req.resume();
      sendInvalidLinkPage(res);
      return;
    }
    const form = await readOneClickForm(req, res);
    if (!form) return;
    const method = form.get('via') === 'page' ? 'confirmation_page' : 'one_click';
    const outcome = await store.unsubscribe(verified.ref, who(req), method);
    if (outcome === 'unknown_message') {
      sendInvalidLinkPage(res);
      return;
    }
    sendUnsubscribedPage(res);
  };

  return [
    { method: 'GET', path: OPEN_PREFIX, handler: openPixel(true) },
    { method: 'HEAD', path: OPEN_PREFIX, handler: openPixel(false) },
    { method: 'GET', path: CLICK_PREFIX, handler: click(true) },
    { method: 'HEAD', path: CLICK_PREFIX, handler: click(false) },
    { method: 'GET', path: UNSUBSCRIBE_PREFIX, handler: confirmationPage },
    { method: 'POST', path: UNSUBSCRIBE_PREFIX, handler: unsubscribe },
  ];
}
