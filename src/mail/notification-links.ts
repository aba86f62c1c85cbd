/**
 * The unsubscribe links of notification emails (workers/notices/). A token
 * names a user and a kind of notification and is signed with HMAC-SHA256
 * (a key derived from the secrets key, like the tracking links'), so the
 * endpoint trusts it without a lookup and nobody can forge one for another
 * user or kind. On the API server:
 *
 *   GET  /notifications/unsubscribe/<token>  a confirmation page (changes nothing)
 *   POST /notifications/unsubscribe/<token>  RFC 8058 one-click unsubscribe
 *                                            (body List-Unsubscribe=One-Click)
 *
 * The POST turns that kind off for that user
 * (app_private.unsubscribe_notifications): the weekly report switches
 * user_preferences.weekly_reports off, any other kind is added to
 * muted_notifications.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { Route } from '../server/http.ts';
import { sendInvalidLinkPage, sendPage } from '../tracking/pages.ts';
import { ONE_CLICK_FIELD, ONE_CLICK_VALUE, readOneClickForm } from '../tracking/request.ts';

// A token carries a kind's position in this list: new kinds go at the end.
export const NOTIFICATION_KINDS = ['reply_received', 'campaign_completed', 'safety_pause', 'domain_verification_failed', 'payment_failed', 'weekly_report', 'webhook_disabled'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** How each kind is named on the unsubscribe pages and in the emails' footers. */
export const KIND_LABELS: Record<NotificationKind, string> = {
  reply_received: 'replies received',
  campaign_completed: 'campaigns completed',
  safety_pause: 'campaigns or inboxes paused automatically',
  domain_verification_failed: 'domain verification failures',
  payment_failed: 'failed payments',
  weekly_report: 'the weekly report',
  webhook_disabled: 'webhooks disabled after failed deliveries',
};

export const UNSUBSCRIBE_PATH = '/notifications/unsubscribe/';

export interface NotificationLinks {
  token(userId: string, kind: NotificationKind): string;
  parse(token: string): { userId: string; kind: NotificationKind } | null;
  unsubscribeUrl(publicUrl: string, userId: string, kind: NotificationKind): string;
}

/** The signing key, derived from the application secrets key (HKDF). */
export function notificationKeyFrom(secretsKeyHex: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secretsKeyHex, 'hex'), Buffer.alloc(0), 'penguinmails notification unsubscribe v1', 32));
}

const uuidToBytes = (uuid: string) => Buffer.from(uuid.replace(/-/g, ''), 'hex');
const bytesToUuid = (b: Buffer) => {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export function makeNotificationLinks(key: Buffer): NotificationLinks {
  const mac = (data: string) => createHmac('sha256', key).update(`n:${data}`).digest().subarray(0, 16).toString('base64url');
  const token = (userId: string, kind: NotificationKind) => {
    const body = Buffer.concat([uuidToBytes(userId), Buffer.from([NOTIFICATION_KINDS.indexOf(kind)])]).toString('base64url');
    return `${body}.${mac(body)}`;
  };
  return {
    token,
    parse(value) {
      const [body, sig, extra] = value.split('.');
      if (!body || !sig || extra !== undefined) return null;
      // Compared as text: base64url decoding ignores trailing bits.
      const expected = Buffer.from(mac(body));
      const given = Buffer.from(sig);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      const raw = Buffer.from(body, 'base64url');
      const kind = NOTIFICATION_KINDS[raw[16] ?? -1];
      if (raw.length !== 17 || !kind) return null;
      return { userId: bytesToUuid(raw.subarray(0, 16)), kind };
    },
    unsubscribeUrl: (publicUrl, userId, kind) => `${publicUrl.replace(/\/+$/, '')}${UNSUBSCRIBE_PATH}${token(userId, kind)}`,
  };
}


export function notificationUnsubscribeRoutes({ pool, links }: { pool: pg.Pool; links: NotificationLinks }): Route[] {
  const verify = (url: URL) => {
    const token = url.pathname.slice(UNSUBSCRIBE_PATH.length);
    return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token) ? links.parse(token) : null;
  };

  const confirmationPage = (_req: IncomingMessage, res: ServerResponse, url: URL) => {
    const ref = verify(url);
    if (!ref) {
      sendInvalidLinkPage(res);
      return;
    }
    sendPage(
      res,
      200,
      'Unsubscribe',
      `<h1>Unsubscribe?</h1><p>Stop the PenguinMails emails about <strong>${KIND_LABELS[ref.kind]}</strong> to you.</p>` +
        `<form method="post"><input type="hidden" name="${ONE_CLICK_FIELD}" value="${ONE_CLICK_VALUE}"><button type="submit">Unsubscribe</button></form>` +
        '<p class="muted">You can turn them back on in your preferences.</p>',
    );
  };

  const unsubscribe = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const ref = verify(url);
    if (!ref) {
      req.resume();
      sendInvalidLinkPage(res);
      return;
    }
    const form = await readOneClickForm(req, res);
    if (!form) return;
    await pool.query('select app_private.unsubscribe_notifications($1, $2)', [ref.userId, ref.kind]);
    sendPage(res, 200, 'Unsubscribed',
      `<h1>You are unsubscribed</h1><p>You will not get PenguinMails emails about ${KIND_LABELS[ref.kind]} any more.</p>` +
        '<p class="muted">You can turn them back on in your preferences.</p>');
  };

  return [
    { method: 'GET', path: UNSUBSCRIBE_PATH, handler: confirmationPage },
    { method: 'POST', path: UNSUBSCRIBE_PATH, handler: unsubscribe },
  ];
}
