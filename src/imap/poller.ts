/**
 * Polls one inbox: logs in over IMAP (imapflow), reads only what arrived
 * after the last UID it saw (or, on the first poll and after a UIDVALIDITY
 * change, everything since a day before the inbox's first outbound message),
 * and hands each message to record_inbound_message() together with the
 * progress past its UID, in one transaction. The mailbox is opened read-only:
 * nothing is marked as read, moved or deleted.
 *
 * Failures the inbox owner can fix (bad settings, no or wrong password, an
 * unreachable server) end the poll and are written to the inbox's
 * last_error, without secrets; database errors are thrown so the job is
 * retried.
 */
import type { ConnectionOptions } from 'node:tls';
import { ImapFlow, type FetchMessageObject, type MailboxObject } from 'imapflow';
import type { SecretBox } from '../crypto/secrets.ts';
import { makeOutboundGuard, OutboundRefused, scrubAddresses, type OutboundGuard, type OutboundTarget } from '../net/outbound-guard.ts';
import type { TrackingTokens } from '../tracking/tokens.ts';
import { trackedMessageId } from './feedback-report.ts';
import { parseInbound, type InboundMail } from './parse.ts';
import { oauthLogin, OAuthReconnectRequired, OAuthTemporaryError, type OAuthLogin } from '../oauth/access-token.ts';
import type { OAuthConfig } from '../oauth/providers.ts';
import { queryRows } from '../db/query.ts';
import { ImapSettingsError, imapFlowOptions, resolveImapSettings, type ResolvedImapSettings } from './settings.ts';
import {
  loadPollTarget,
  queuePoll,
  recordFailure,
  recordPolledMessage,
  recordProgress,
  type InboundOutcome,
  type InboxRef,
  type WithClient,
} from './store.ts';

export interface ImapPollerDeps {
  /** Opens the sealed IMAP passwords (the application secrets key). */
  secretBox: SecretBox;
  /** Extra TLS options, e.g. a private CA in tests. */
  tls?: ConnectionOptions;
  /** Connection and greeting timeout (default 20 s). */
  timeoutMs?: number;
  /** Messages read per poll before the rest is left to an immediate follow-up poll (default 200). */
  batchSize?: number;
  /** Largest part of a message read, in bytes (default 2 MB); headers, text and DSN parts come first. */
  maxMessageBytes?: number;
  /**
   * Checks the inbox's IMAP host before connecting (src/net/outbound-guard.ts); the connection goes to the
   * address it returns. Default: no private or reserved address, hostnames resolved by the system's DNS servers.
   */
  outbound?: OutboundGuard;
  /** Google and Microsoft OAuth clients: inboxes connected over OAuth log in with XOAUTH2 to their provider's IMAP host. */
  oauth?: OAuthConfig;
  /**
   * Verifies the tracking tokens in a feedback report's attached original
   * (src/imap/feedback-report.ts), so a report whose Message-ID was rewritten
   * or dropped is still matched. Unset: reports are matched by Message-ID only.
   */
  tracking?: TrackingTokens;
}

const STRICT_GUARD = makeOutboundGuard();

export type PollOutcome = InboundOutcome | 'unparseable' | 'vanished';

export interface PollSummary {
  status: 'ok' | 'failed' | 'skipped';
  /** Why the poll failed or was skipped (the text stored in last_error for failures). */
  reason?: string;
  uidValidity?: string;
  examined: number;
  outcomes: Partial<Record<PollOutcome, number>>;
  /** More messages wait; a follow-up poll was queued. */
  more: boolean;
  /** Feedback reports that recorded nothing because they match no message of the tenant or are malformed (only when there are some). */
  ignoredReports?: Array<{ messageId: string; reason: string }>;
}

const INBOX = 'INBOX';

interface ImapErrorShape {
  code?: string;
  authenticationFailed?: boolean;
  responseText?: string;
  serverResponseCode?: string;
  reason?: string;
  message?: string;
}

/** The server refused the login (wrong password, or an access token it does not accept). */
function isAuthenticationFailure(error: unknown): boolean {
  const e = (error ?? {}) as ImapErrorShape;
  return e.authenticationFailed === true || e.serverResponseCode === 'AUTHENTICATIONFAILED';
}

/** A last_error text for an IMAP failure: what failed, where, and what to do; never the password. */
export function describeImapFailure(
  error: unknown,
  settings: ResolvedImapSettings,
  password: string,
  stage: 'connect' | 'read' = 'connect',
  oauth = false,
): string {
  const e = (error ?? {}) as ImapErrorShape;
  const where = `${settings.host}:${settings.port}`;
  // No password, and no resolved addresses or ports (the socket's "connect ECONNREFUSED 10.0.0.7:143").
  const scrub = (s: string) => scrubAddresses((password ? s.split(password).join('***') : s).replace(/\s+/g, ' ').trim()).slice(0, 300);
  if (isAuthenticationFailure(error)) {
    const server = e.responseText ? ` (server said: ${scrub(e.responseText)})` : '';
    if (oauth) {
      return `IMAP login failed for ${settings.username} at ${where}: the provider refused a freshly renewed access token${server}. Check that IMAP is enabled for this mailbox, or connect it again.`;
    }
    return `IMAP login failed for ${settings.username} at ${where}: the server rejected the username or password${server}. Check the inbox's IMAP username and password.`;
  }
  const detail = scrub([e.code, e.responseText ?? e.reason ?? e.message].filter(Boolean).join(': ') || 'unknown error');
  if (stage === 'read') return `IMAP reading ${INBOX} at ${where} failed: ${detail}.`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|SSL|wrong version number/i.test(detail)) {
    return `IMAP connection to ${where} failed: TLS could not be established (${detail}). Check the port and the "secure" setting (true for port 993).`;
  }
  return `IMAP connection to ${where} failed: ${detail}.`;
}

/** Why a feedback report recorded nothing, when it did not. */
function ignoredReport(mail: InboundMail, outcome: InboundOutcome | null): string | null {
  const c = mail.classification;
  if (c.kind === 'malformed_report') return `malformed: ${c.reason}`;
  if (c.kind === 'complaint' && outcome === 'unmatched') {
    const id = c.report.original_message_id;
    return `it matches no message of this tenant (reported Message-ID: ${id ? `<${id}>` : 'none'})`;
  }
  return null;
}

const count = (summary: PollSummary, outcome: PollOutcome) => {
  summary.outcomes[outcome] = (summary.outcomes[outcome] ?? 0) + 1;
};

export async function pollInbox(withClient: WithClient, deps: ImapPollerDeps, ref: InboxRef): Promise<PollSummary> {
  const summary: PollSummary = { status: 'ok', examined: 0, outcomes: {}, more: false };
  const batchSize = deps.batchSize ?? 200;
  const maxBytes = deps.maxMessageBytes ?? 2_000_000;

  return withClient(async (db) => {
    const fail = async (reason: string): Promise<PollSummary> => {
      await recordFailure(db, ref, reason);
      return { ...summary, status: 'failed', reason };
    };

    const target = await loadPollTarget(db, ref);
    if (!target) return { ...summary, status: 'skipped', reason: 'the inbox no longer exists' };
    // Paused stops sending, not reading: replies and complaints still count.
    if (target.status !== 'active' && target.status !== 'paused') return { ...summary, status: 'skipped', reason: `the inbox is ${target.status}` };

    let settings: ResolvedImapSettings;
    try {
      settings = resolveImapSettings(target.imapSettings, target.email);
    } catch (error) {
      if (error instanceof ImapSettingsError) return fail(error.message);
      throw error;
    }
    // An inbox connected over OAuth logs in with its access token to the provider's IMAP host.
    let oauth: OAuthLogin | null = null;
    if (deps.oauth) {
      try {
        oauth = await oauthLogin(queryRows(db), { secretBox: deps.secretBox, oauth: deps.oauth }, ref.tenantId, ref.emailAccountId);
      } catch (error) {
        if (error instanceof OAuthReconnectRequired) return { ...summary, status: 'skipped', reason: error.message };
        if (error instanceof OAuthTemporaryError) return fail(`IMAP login for ${target.email} waits for the provider: ${error.message}`);
        throw error;
      }
    }
    let password: string;
    if (oauth) {
      const { host, port } = oauth.provider.imap;
      settings = { host, port, secure: port === 993, requireTls: false, username: oauth.user };
      password = oauth.accessToken;
    } else {
      if (!target.sealedPassword) {
        return fail('IMAP password is not set for this inbox; set it with setEmailAccountCredentials.');
      }
      try {
        password = deps.secretBox.decrypt(target.sealedPassword);
      } catch {
        return fail('IMAP password cannot be decrypted with the current secrets key (PM_SECRETS_KEY); set the password again.');
      }
    }

    let address: OutboundTarget;
    try {
      address = await (deps.outbound ?? STRICT_GUARD).check(settings.host);
    } catch (error) {
      if (error instanceof OutboundRefused) return fail(`IMAP connection to ${settings.host}:${settings.port} refused: ${error.message}.`);
      throw error;
    }

    const newClient = (secret: string) => {
      const c = new ImapFlow(imapFlowOptions(settings, oauth ? { accessToken: secret } : secret,
        { tls: deps.tls, timeoutMs: deps.timeoutMs ?? 20_000, target: address }));
      // Socket errors also reject the pending command; without a listener they would crash the worker.
      c.on('error', () => undefined);
      return c;
    };
    let client = newClient(password);
    try {
      try {
        await client.connect();
      } catch (error) {
        if (!oauth || !isAuthenticationFailure(error)) return await fail(describeImapFailure(error, settings, password));
        // The provider refused an access token the platform still thought valid (revoked or expired early):
        // renew it once, as the send path does after a 535, and log in again.
        client.close();
        try {
          oauth = await oauthLogin(queryRows(db), { secretBox: deps.secretBox, oauth: deps.oauth! }, ref.tenantId, ref.emailAccountId, { force: true });
        } catch (renewal) {
          if (renewal instanceof OAuthReconnectRequired) return { ...summary, status: 'skipped', reason: renewal.message };
          if (renewal instanceof OAuthTemporaryError) return await fail(`IMAP login for ${target.email} waits for the provider: ${renewal.message}`);
          throw renewal;
        }
        password = oauth!.accessToken;
        client = newClient(password);
        try {
          await client.connect();
        } catch (again) {
          return await fail(describeImapFailure(again, settings, password, 'connect', true));
        }
      }

      let mailbox: MailboxObject;
      let uids: number[];
      try {
        mailbox = await client.mailboxOpen(INBOX, { readOnly: true });
        const sameValidity = target.uidValidity !== null && target.uidValidity === mailbox.uidValidity.toString();
        if (sameValidity) {
          const from = (target.lastUid ?? 0) + 1;
          const nothingNew = mailbox.uidNext !== undefined && from >= mailbox.uidNext;
          uids = nothingNew ? [] : (await client.search({ uid: `${from}:*` }, { uid: true })) || [];
          // "n:*" always includes the last message, even below n.
          uids = uids.filter((uid) => uid >= from);
        } else if (target.scanSince) {
          uids = (await client.search({ since: target.scanSince }, { uid: true })) || [];
        } else {
          uids = []; // this inbox has sent nothing, so nothing in it can answer us
        }
      } catch (error) {
        return await fail(describeImapFailure(error, settings, password, 'read'));
      }
      uids.sort((a, b) => a - b);
      summary.uidValidity = mailbox.uidValidity.toString();
      summary.more = uids.length > batchSize;
      const batch = uids.slice(0, batchSize);

      for (const uid of batch) {
        let mail: InboundMail | null = null;
        let fetched: FetchMessageObject | false;
        try {
          fetched = await client.fetchOne(String(uid), { uid: true, source: { maxLength: maxBytes } }, { uid: true });
        } catch (error) {
          return await fail(describeImapFailure(error, settings, password, 'read'));
        }
        summary.examined++;
        if (!fetched || !fetched.source) {
          count(summary, 'vanished'); // expunged since the search
        } else {
          try {
            mail = await parseInbound(fetched.source);
          } catch {
            count(summary, 'unparseable'); // kept on the server, skipped here so one message cannot block the inbox
          }
        }
        if (mail?.classification.kind === 'complaint') {
          mail.classification.report.tracked_message_id = trackedMessageId(mail.classification.report, deps.tracking, ref.tenantId);
        }
        const outcome = await recordPolledMessage(db, ref, { uidValidity: mailbox.uidValidity, uid }, mail);
        if (outcome) count(summary, outcome);
        const ignored = mail ? ignoredReport(mail, outcome) : null;
        if (mail && ignored) (summary.ignoredReports ??= []).push({ messageId: mail.messageId, reason: ignored });
      }

      if (summary.more) {
        await queuePoll(db, ref);
      } else {
        // Everything below UIDNEXT was examined or is older than anything we sent.
        // (With the same UIDVALIDITY the stored value never moves back.)
        const seen = Math.max(batch.at(-1) ?? 0, (mailbox.uidNext ?? 1) - 1);
        await recordProgress(db, ref, mailbox.uidValidity, seen);
      }
      return summary;
    } finally {
      if (client.usable) await client.logout().catch(() => client.close());
      else client.close();
    }
  });
}
