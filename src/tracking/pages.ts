/**
 * The small HTML pages recipients see: the unsubscribe confirmation (a form
 * that POSTs, so a link scanner following the link unsubscribes nobody), the
 * result, and the answers to bad links. Self-contained, no scripts, no
 * external resources.
 */
import type { ServerResponse } from 'node:http';
import { NO_STORE_HEADERS } from './pixel.ts';

/** Stable codes of the errors a recipient's request can get (also sent as the X-Error-Code header). */
export type TrackingErrorCode = 'INVALID_LINK' | 'INVALID_TARGET' | 'MISSING_ONE_CLICK' | 'BODY_TOO_LARGE' | 'UNSUPPORTED_BODY';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE =
  'body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2933;line-height:1.5}' +
  'h1{font-size:1.4rem}button{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:.4rem;background:#1f2933;color:#fff;cursor:pointer}' +
  '.muted{color:#616e7c;font-size:.9rem}';

function page(title: string, body: string): Buffer {
  return Buffer.from(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
      `<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>` +
      `<body>${body}</body></html>`,
  );
}

export function sendPage(res: ServerResponse, status: number, title: string, body: string, errorCode?: TrackingErrorCode): void {
  const html = page(title, body);
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(html.length),
    // Inline styles only; the form may only post back here.
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...NO_STORE_HEADERS,
    ...(errorCode ? { 'x-error-code': errorCode } : {}),
  });
  res.end(html);
}

export interface UnsubscribePreview {
  recipient: string | null;
  sender: string;
  alreadyUnsubscribed: boolean;
}

/** GET /u/<token>: asks for confirmation; only the POST of this form unsubscribes. */
export function sendConfirmationPage(res: ServerResponse, preview: UnsubscribePreview): void {
  const who = preview.recipient ? ` (${escapeHtml(preview.recipient)})` : '';
  if (preview.alreadyUnsubscribed) {
    sendPage(
      res,
      200,
      'Unsubscribed',
      `<h1>You are already unsubscribed</h1><p>This address${who} no longer receives emails from ${escapeHtml(preview.sender)}.</p>`,
    );
    return;
  }
  sendPage(
    res,
    200,
    'Unsubscribe',
    `<h1>Unsubscribe?</h1><p>Stop all emails from <strong>${escapeHtml(preview.sender)}</strong> to this address${who}.</p>` +
      `<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">` +
      `<input type="hidden" name="via" value="page"><button type="submit">Unsubscribe</button></form>`,
  );
}

export function sendUnsubscribedPage(res: ServerResponse): void {
  sendPage(
    res,
    200,
    'Unsubscribed',
    '<h1>You are unsubscribed</h1><p>This address will not receive any more emails from this sender.</p>' +
      '<p class="muted">Unsubscribed by mistake? Reply to one of their emails and ask to be added back.</p>',
  );
}

/** Forged, damaged or outdated links: one neutral answer whatever the reason. */
export function sendInvalidLinkPage(res: ServerResponse, status = 404): void {
  sendPage(
    res,
    status,
    'Link not valid',
    '<h1>This link is not valid</h1><p>It may have been copied incompletely, or it no longer exists. Open the link from the original email again.</p>',
    'INVALID_LINK',
  );
}

export function sendBadRequestPage(res: ServerResponse, status: number, code: TrackingErrorCode, message: string): void {
  sendPage(res, status, 'Request not valid', `<h1>That did not work</h1><p>${escapeHtml(message)}</p>`, code);
}
