/**
 * One SMTP delivery through the inbox's own server (nodemailer): TLS as the
 * inbox's settings require (implicit TLS with `secure`, STARTTLS enforced
 * with `require_tls`, opportunistic otherwise), DKIM-signed with the domain's
 * key over the headers that matter (RFC 8058 one-click unsubscribe needs
 * List-Unsubscribe and List-Unsubscribe-Post signed), a stable Message-ID,
 * and threading headers for follow-ups. The server's answer is classified
 * into what the engine does next; nothing here touches the database, and no
 * secret is ever logged or put into an error.
 *
 * With a transport pool (src/sending/smtp-pool.ts, one per worker) consecutive
 * messages with the same connection identity reuse one connection; after an
 * error that says the connection or the login is bad, that transport is
 * retired so the next message connects and logs in afresh. Without one, each
 * message gets its own connection.
 */
import { createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import nodemailer from 'nodemailer';
import type { SMTPTransportOptions } from 'nodemailer/lib/smtp-transport';
import { z } from 'zod';
import { makeOutboundGuard, OutboundRefused, scrubAddresses, type OutboundGuard, type OutboundTarget } from '../net/outbound-guard.ts';
import type { SmtpTransportPool } from './smtp-pool.ts';

/** email_accounts.smtp_settings (connection settings only; the password is stored encrypted elsewhere). */
export const SmtpSettings = z.object({
  host: z.string().min(1, 'the SMTP host is missing'),
  port: z.coerce.number().int().min(1).max(65535).optional(),
  secure: z.boolean().optional(),
  require_tls: z.boolean().optional(),
  username: z.string().optional(),
});
export type SmtpSettings = z.infer<typeof SmtpSettings>;

/** The headers the DKIM signature covers. */
export const DKIM_SIGNED_HEADERS = [
  'From', 'To', 'Subject', 'Date', 'Message-ID', 'Reply-To', 'In-Reply-To', 'References',
  'MIME-Version', 'Content-Type', 'List-Unsubscribe', 'List-Unsubscribe-Post',
] as const;

export interface OutgoingMail {
  fromName: string | null;
  fromAddress: string;
  to: string;
  replyTo: string | null;
  subject: string;
  html: string;
  text: string;
  /** Without angle brackets: <uuid>@<sending domain>. */
  messageId: string;
  /** The thread's first Message-ID (follow-ups), without angle brackets. */
  inReplyTo: string | null;
  unsubscribeUrl: string;
  dkim: { domainName: string; keySelector: string; privateKey: string };
}

export interface SmtpOptions {
  /** Extra TLS options for every connection (tests trust their own CA here). */
  tls?: ConnectionOptions;
  /** Connection, greeting and socket timeout. */
  timeoutMs?: number;
  /**
   * Checks the inbox's SMTP host before connecting (src/net/outbound-guard.ts);
   * the connection goes to the address it returns. Default: no private or
   * reserved address allowed, hostnames resolved by the system's DNS servers.
   */
  outbound?: OutboundGuard;
}

const STRICT_GUARD = makeOutboundGuard();

export type SmtpOutcome =
  | { kind: 'accepted'; response: string }
  | { kind: 'deferred'; code: number | null; response: string; inboxError?: string }
  | { kind: 'rejected'; code: number; response: string }
  | { kind: 'failed'; reason: string; inboxError?: string };

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
}

const TRANSIENT_CODES = new Set([
  'ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EPROTOCOL', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND',
]);

/** What an SMTP failure means for the message. */
export function classifySmtpError(error: SmtpError, host: string): SmtpOutcome {
  const code = typeof error.responseCode === 'number' ? error.responseCode : null;
  // Without an SMTP answer the text is the socket's ("connect ECONNREFUSED 10.0.0.7:25"): no addresses for the tenant.
  const raw = (error.response ?? error.message).replace(/\s+/g, ' ').trim();
  const response = code === null ? scrubAddresses(raw) : raw;
  if (error.code === 'EAUTH' || error.code === 'ENOAUTH') {
    // The inbox's credentials, not the recipient: retried, and shown on the inbox.
    return { kind: 'deferred', code, response, inboxError: `SMTP login to ${host} failed: ${response}` };
  }
  if (error.code === 'ETLS' || error.command === 'STARTTLS') {
    // TLS the inbox requires could not be set up: nothing was sent in clear text.
    return { kind: 'deferred', code, response: `TLS could not be started: ${response}`, inboxError: `${host} could not start TLS: ${response}` };
  }
  if (code !== null && code >= 500) {
    if (error.command === 'RCPT TO' || error.command === 'DATA' || error.code === 'EMESSAGE') {
      return { kind: 'rejected', code, response };
    }
    return { kind: 'failed', reason: `${host} refused the sender (${error.command ?? 'SMTP'}): ${response}`, inboxError: `${host} refused the sender: ${response}` };
  }
  if (code !== null && code >= 400) return { kind: 'deferred', code, response };
  if (error.code && TRANSIENT_CODES.has(error.code)) {
    return { kind: 'deferred', code: null, response: `${error.code}: ${response}` };
  }
  return { kind: 'failed', reason: `Delivery through ${host} failed: ${response}` };
}

/** Checks a PEM private key before sending: nodemailer would otherwise send the message unsigned. */
export function assertSigningKey(pem: string, domain: string): void {
  try {
    createPrivateKey(pem);
  } catch {
    throw new Error(`The DKIM private key of ${domain} cannot be read.`);
  }
}

/**
 * Whether the connection (and login) can serve the next message after this
 * error: only when the server refused this one message (an envelope or DATA
 * answer other than 421, after which nodemailer resets the session). Anything
 * else (login, TLS, timeouts, dropped or refused connections, protocol
 * errors) retires the pooled transport. The outcome is classified the same
 * either way.
 */
export function keepsConnection(error: SmtpError): boolean {
  return (error.code === 'EENVELOPE' || error.code === 'EMESSAGE') && error.responseCode !== 421;
}

/** The nodemailer options of one inbox's connection (without pool settings). */
function transportOptions(settings: SmtpSettings, target: OutboundTarget, password: string | null, mail: OutgoingMail, options: SmtpOptions): SMTPTransportOptions {
  const secure = settings.secure ?? false;
  const timeout = options.timeoutMs ?? 60_000;
  return {
    // The address the guard checked (pinned), the name for TLS.
    host: target.address,
    port: settings.port ?? (secure ? 465 : 587),
    secure,
    requireTLS: settings.require_tls ?? false,
    auth: settings.username ? { user: settings.username, pass: password ?? '' } : undefined,
    name: mail.dkim.domainName,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    tls: { ...(target.servername && !isIP(target.servername) ? { servername: target.servername } : {}), ...options.tls },
    logger: false,
    debug: false,
  };
}

/**
 * Sends one message: over the pool's transport for this connection identity
 * when a pool is given, else over a connection of its own.
 */
export async function sendSmtp(
  settings: SmtpSettings,
  password: string | null,
  mail: OutgoingMail,
  options: SmtpOptions = {},
  pool?: SmtpTransportPool,
): Promise<SmtpOutcome> {
  let target: OutboundTarget;
  try {
    target = await (options.outbound ?? STRICT_GUARD).check(settings.host);
  } catch (error) {
    if (!(error instanceof OutboundRefused)) throw error;
    // Nothing was connected to. A refused address is a setting to fix; a name that does not resolve may resolve later.
    return error.code === 'OUTBOUND_REFUSED'
      ? { kind: 'failed', reason: `Delivery through ${settings.host} refused: ${error.message}.`, inboxError: `SMTP server ${settings.host}: ${error.message}.` }
      : { kind: 'deferred', code: null, response: `${settings.host}: ${error.message}`, inboxError: `SMTP server ${settings.host}: ${error.message}.` };
  }
  const connection = transportOptions(settings, target, password, mail, options);
  const lease = pool?.acquire(connection);
  const transport = lease?.transport ?? nodemailer.createTransport(connection);
  let broken = false;
  try {
    const info = await transport.sendMail({
      from: { name: mail.fromName ?? '', address: mail.fromAddress },
      to: mail.to,
      replyTo: mail.replyTo ?? undefined,
      subject: mail.subject,
      html: mail.html,
      text: mail.text,
      messageId: `<${mail.messageId}>`,
      inReplyTo: mail.inReplyTo ? `<${mail.inReplyTo}>` : undefined,
      references: mail.inReplyTo ? [`<${mail.inReplyTo}>`] : undefined,
      headers: {
        'List-Unsubscribe': { prepared: true, value: `<${mail.unsubscribeUrl}>` },
        'List-Unsubscribe-Post': { prepared: true, value: 'List-Unsubscribe=One-Click' },
      },
      envelope: { from: mail.fromAddress, to: [mail.to] },
      dkim: {
        domainName: mail.dkim.domainName,
        keySelector: mail.dkim.keySelector,
        privateKey: mail.dkim.privateKey,
        headerFieldNames: DKIM_SIGNED_HEADERS.join(':'),
      },
    });
    return { kind: 'accepted', response: String(info.response ?? '250 OK') };
  } catch (error) {
    broken = !keepsConnection(error as SmtpError);
    return classifySmtpError(error as SmtpError, settings.host);
  } finally {
    if (lease) lease.release(broken);
    else transport.close();
  }
}
