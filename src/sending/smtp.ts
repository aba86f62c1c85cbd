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
 * The end of the transfer is in the caller's hands: `beforeFinalDot` runs (and
 * is awaited) after the whole signed message has gone into the connection and
 * before the final "." that completes DATA; until that dot the server must
 * discard what it got (RFC 5321 §4.1.1.4). If it fails, the dot is never
 * written and the connection is closed. After the dot, a connection lost or
 * timed out without an answer is `unconfirmed` (the server may have the
 * message), never `deferred`.
 *
 * With a transport pool (src/sending/smtp-pool.ts, one per worker) consecutive
 * messages with the same connection identity reuse one connection; after an
 * error that says the connection or the login is bad, that transport is
 * retired so the next message connects and logs in afresh. Without one, each
 * message gets its own connection.
 */
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Readable } from 'node:stream';
import nodemailer, { type Transporter } from 'nodemailer';
import DKIM from 'nodemailer/lib/dkim';
import type MailMessage from 'nodemailer/lib/mailer/mail-message';
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
  /** The message this one answers (a follow-up: the thread's first; a reply: the lead's), without angle brackets. */
  inReplyTo: string | null;
  /** The References chain, oldest first, without angle brackets; default: inReplyTo alone. */
  references?: string[] | null;
  /** RFC 8058 one-click unsubscribe (List-Unsubscribe and List-Unsubscribe-Post); null: no such headers (a reply from a person). */
  unsubscribeUrl: string | null;
  /** privateKey: PEM, or a parsed key (src/sending/signing-keys.ts). */
  dkim: { domainName: string; keySelector: string; privateKey: string | KeyObject };
  /** The local address the connection leaves from (a platform IP of the pool, messages.smtp_ip_address_id); default: the system's choice. */
  sourceAddress?: string | null;
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

/** How the inbox logs in: its password (null: no login), or an OAuth 2.0 access token (XOAUTH2, Google and Microsoft). */
export type SmtpLogin = string | null | { oauth2: { user: string; accessToken: string } };

export type SmtpOutcome =
  | { kind: 'accepted'; response: string }
  /** `authFailed`: the server refused the login (nothing of the message was sent). */
  | { kind: 'deferred'; code: number | null; response: string; inboxError?: string; authFailed?: true }
  | { kind: 'rejected'; code: number; response: string }
  | { kind: 'failed'; reason: string; inboxError?: string }
  /** The final "." was written and no answer came (connection lost, timeout): the server may have it. */
  | { kind: 'unconfirmed'; reason: string };

export interface SendHooks {
  /**
   * Runs right before the final "." of DATA is written (the message itself is
   * in the connection by then). Rejecting stops the transfer without the dot:
   * the server cannot have the message, and the outcome is `deferred`.
   */
  beforeFinalDot?: () => Promise<void>;
}

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
    return { kind: 'deferred', code, response, inboxError: `SMTP login to ${host} failed: ${response}`, authFailed: true };
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
function transportOptions(settings: SmtpSettings, target: OutboundTarget, login: SmtpLogin, mail: OutgoingMail, options: SmtpOptions): SMTPTransportOptions {
  const secure = settings.secure ?? false;
  const timeout = options.timeoutMs ?? 60_000;
  return {
    // The address the guard checked (pinned), the name for TLS.
    host: target.address,
    port: settings.port ?? (secure ? 465 : 587),
    secure,
    requireTLS: settings.require_tls ?? false,
    auth: login !== null && typeof login === 'object'
      ? { type: 'OAuth2', user: login.oauth2.user, accessToken: login.oauth2.accessToken }
      : settings.username ? { user: settings.username, pass: login ?? '' } : undefined,
    name: mail.dkim.domainName,
    ...(mail.sourceAddress ? { localAddress: mail.sourceAddress } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    tls: { ...(target.servername && !isIP(target.servername) ? { servername: target.servername } : {}), ...options.tls },
    logger: false,
    debug: false,
  };
}

/** Per-message data the stream plugin reads from `mail.data` (nodemailer keeps unknown keys). */
interface StreamExtras {
  pmDkim?: DKIM.Options;
  pmHandOver?: HandOver;
}

/** The end of one message's transfer, in the caller's hands. */
interface HandOver {
  /** Awaited before the final "."; a rejection stops the transfer without it. */
  before(): Promise<void>;
  /** The final "." is being written. */
  released(): void;
  /** The transfer stopped without the final "." (the hook failed or the connection was gone). */
  refused(error: Error): void;
}

/**
 * Whether the connection our stream feeds can still take the final ".": the
 * stream is piped into nodemailer's DATA stream, which is piped into the
 * socket until the connection closes. A socket the server already closed
 * (FIN or reset received) cannot deliver the dot; writing it would turn "the
 * server cannot have it" into "unconfirmed".
 */
function connectionOpen(stream: Readable): boolean {
  type Piped = { _readableState?: { pipes?: unknown[] } };
  const dataStream = (stream as unknown as Piped)._readableState?.pipes?.[0] as Piped | undefined;
  const socket = dataStream?._readableState?.pipes?.[0] as { destroyed?: boolean; writable?: boolean; readableEnded?: boolean } | undefined;
  return !!socket && !socket.destroyed && !!socket.writable && !socket.readableEnded;
}

/**
 * Passes the message through to the SMTP connection, and ends it (which makes
 * the connection write the final ".") only after the hand-over hook resolved
 * and the connection is still open. The hook runs when the connection asks
 * for more after the last byte, not earlier: this stream buffers nothing of
 * its own (highWaterMark 0), so nothing is read ahead while the envelope is
 * still being sent. Otherwise the stream fails and never ends.
 */
function holdEnd(input: Readable, handOver: HandOver): Readable {
  let wanted = false;
  let inputEnded = false;
  let hookStarted = false;
  const refuse = (error: unknown) => {
    const e = error instanceof Error ? error : new Error(String(error));
    handOver.refused(e);
    output.destroy(e);
  };
  const release = () => {
    if (!connectionOpen(output)) return refuse(new Error('the connection closed before the end of the message'));
    handOver.released();
    output.push(null);
  };
  const pump = () => {
    while (wanted) {
      const chunk: unknown = input.read();
      if (chunk !== null) {
        wanted = output.push(chunk);
        continue;
      }
      if (inputEnded && !hookStarted) {
        hookStarted = true;
        if (!connectionOpen(output)) return refuse(new Error('the connection closed before the end of the message'));
        handOver.before().then(release, refuse);
      }
      return;
    }
  };
  const output: Readable = new Readable({
    highWaterMark: 0,
    read() {
      wanted = true;
      pump();
    },
    destroy(error, callback) {
      input.destroy();
      callback(error);
    },
  });
  input.on('readable', pump);
  input.on('end', () => {
    inputEnded = true;
    pump();
  });
  input.on('error', (error) => output.destroy(error));
  return output;
}

/**
 * The 'stream' plugin of every transport we send through: DKIM-signs the
 * message and then holds back its end for the hand-over hook. (nodemailer's
 * own `dkim` option would add its signing step after every plugin, so the
 * hook would run before the signer had even started; the signer buffers the
 * whole message, so the order matters.)
 */
function handOverPlugin(mail: MailMessage<unknown>, done: (error?: Error | null) => void): void {
  const extras = mail.data as StreamExtras;
  if (extras.pmDkim) {
    const signer = new DKIM(extras.pmDkim);
    mail.message.processFunc((input) => signer.sign(input));
  }
  if (extras.pmHandOver) {
    const handOver = extras.pmHandOver;
    mail.message.processFunc((input) => holdEnd(input, handOver));
  }
  done();
}

const withPlugin = new WeakSet<object>();
function usePlugin<T extends Transporter<unknown>>(transport: T): T {
  if (!withPlugin.has(transport)) {
    transport.use('stream', handOverPlugin);
    withPlugin.add(transport);
  }
  return transport;
}

/**
 * Sends one message: over the pool's transport for this connection identity
 * when a pool is given, else over a connection of its own.
 */
export async function sendSmtp(
  settings: SmtpSettings,
  login: SmtpLogin,
  mail: OutgoingMail,
  options: SmtpOptions = {},
  pool?: SmtpTransportPool,
  hooks: SendHooks = {},
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
  const connection = transportOptions(settings, target, login, mail, options);
  const lease = pool?.acquire(connection);
  const transport = usePlugin(lease?.transport ?? nodemailer.createTransport(connection));
  let broken = false;
  /** Set once the hook let the final "." go. */
  let dotReleased = false;
  let holdError: Error | null = null;
  const extras: StreamExtras = {
    pmDkim: {
      domainName: mail.dkim.domainName,
      keySelector: mail.dkim.keySelector,
      // nodemailer hands it to crypto's Sign.sign, which takes either (its types say string).
      privateKey: mail.dkim.privateKey as string,
      headerFieldNames: DKIM_SIGNED_HEADERS.join(':'),
    },
    pmHandOver: {
      before: async () => {
        await hooks.beforeFinalDot?.();
      },
      released: () => {
        dotReleased = true;
      },
      refused: (error) => {
        holdError = error;
      },
    },
  };
  try {
    const info = await transport.sendMail({
      ...(extras as object),
      from: { name: mail.fromName ?? '', address: mail.fromAddress },
      to: mail.to,
      replyTo: mail.replyTo ?? undefined,
      subject: mail.subject,
      html: mail.html,
      text: mail.text,
      messageId: `<${mail.messageId}>`,
      inReplyTo: mail.inReplyTo ? `<${mail.inReplyTo}>` : undefined,
      references: mail.references?.length ? mail.references.map((id) => `<${id}>`) : mail.inReplyTo ? [`<${mail.inReplyTo}>`] : undefined,
      headers: mail.unsubscribeUrl
        ? {
            'List-Unsubscribe': { prepared: true, value: `<${mail.unsubscribeUrl}>` },
            'List-Unsubscribe-Post': { prepared: true, value: 'List-Unsubscribe=One-Click' },
          }
        : {},
      envelope: { from: mail.fromAddress, to: [mail.to] },
    });
    return { kind: 'accepted', response: String(info.response ?? '250 OK') };
  } catch (error) {
    const smtpError = error as SmtpError;
    broken = !keepsConnection(smtpError);
    if (holdError !== null && !dotReleased) {
      return { kind: 'deferred', code: null, response: `Stopped before the end of the message, so the server has nothing: ${(holdError as Error).message}` };
    }
    if (dotReleased && typeof smtpError.responseCode !== 'number') {
      // The server got the whole message and never answered: it may have it.
      const response = (smtpError.response ?? smtpError.message).replace(/\s+/g, ' ').trim();
      return { kind: 'unconfirmed', reason: `no answer from ${settings.host} after the end of the message (${smtpError.code ?? 'error'}: ${response})` };
    }
    return classifySmtpError(smtpError, settings.host);
  } finally {
    if (lease) lease.release(broken);
    else transport.close();
  }
}
