/**
 * Reused SMTP connections: one pooled nodemailer transport per connection
 * identity (host, port, TLS mode, login, password, EHLO name, TLS and timeout
 * options), holding at most one connection, so consecutive messages from an
 * inbox skip the TCP and TLS handshakes, the greeting (which MTAs delay on
 * purpose, ~100 ms and more) and the login. Messages for the same identity
 * sent at the same time queue on that one connection (nodemailer's pool).
 *
 * - A connection is replaced after `maxMessagesPerConnection` messages.
 * - A transport with nothing to send for `idleMs` is closed (the connection
 *   says QUIT first); the timers are unref'd, they never keep a process alive.
 * - At most `maxTransports` transports: beyond that the least recently used
 *   idle ones are closed.
 * - `release(true)` after an error that says the connection or the login is
 *   bad retires the transport: the next message gets a new one (a new
 *   connection, a new login); the retired one is closed once the messages
 *   already queued on it are done, so none of them fails because of it.
 * - `close()` closes every transport (the worker's stop() calls it).
 *
 * The identity key never holds the password or OAuth access token itself,
 * only an HMAC of it under a random key of this pool (a changed password or
 * a renewed token is a new identity).
 *
 * Exactly-once is unaffected: nodemailer's pool puts a message back on its
 * queue only when its connection closed before a byte of the message was
 * written (the server cannot have accepted it); any other failure is
 * reported to the caller, which records it.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import type { SMTPPoolOptions, SMTPPoolSentMessageInfo } from 'nodemailer/lib/smtp-pool';
import type { SMTPTransportOptions } from 'nodemailer/lib/smtp-transport';

export type PooledTransport = Mail<SMTPPoolSentMessageInfo, SMTPPoolOptions>;

export interface SmtpPoolOptions {
  /** Close a transport that had nothing to send for this long (default 30 s). */
  idleMs?: number;
  /** At most this many transports; the least recently used idle ones are closed beyond it (default 200). */
  maxTransports?: number;
  /** Messages sent over one connection before it is replaced (default 100). */
  maxMessagesPerConnection?: number;
}

export interface SmtpLease {
  transport: PooledTransport;
  /**
   * Hands the transport back (once per lease). `broken`: the delivery failed
   * in a way that says the connection or the credentials are bad, so the
   * transport is retired and the next message starts afresh.
   */
  release(broken: boolean): void;
}

export interface SmtpTransportPool {
  /** The transport for these connection options (without the pool settings, which the pool adds). */
  acquire(options: SMTPTransportOptions): SmtpLease;
  /** Transports kept for reuse (retired ones not counted). */
  readonly size: number;
  /** Closes every transport; later acquires get a one-off transport closed on release. */
  close(): void;
}

interface Entry {
  key: string;
  transport: PooledTransport;
  inFlight: number;
  retired: boolean;
  idleTimer: NodeJS.Timeout | null;
}

export function createSmtpPool({ idleMs = 30_000, maxTransports = 200, maxMessagesPerConnection = 100 }: SmtpPoolOptions = {}): SmtpTransportPool {
  const secret = randomBytes(32);
  const refs = new WeakMap<object, number>();
  let nextRef = 0;
  /** Kept transports, least recently used first (a Map keeps insertion order). */
  const entries = new Map<string, Entry>();
  /** Every transport not closed yet, kept or retired. */
  const open = new Set<Entry>();
  let closed = false;

  /** A stable, secret-free rendering of an option value (buffers hashed, functions and class instances by identity). */
  const canonical = (value: unknown): unknown => {
    if (value === null || value === undefined) return null;
    if (typeof value === 'bigint') return `bigint:${value}`;
    if (typeof value !== 'object' && typeof value !== 'function') return value;
    if (ArrayBuffer.isView(value)) {
      return `bytes:${createHash('sha256').update(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)).digest('base64url')}`;
    }
    if (Array.isArray(value)) return value.map(canonical);
    const proto = Object.getPrototypeOf(value) as unknown;
    if (typeof value === 'object' && (proto === Object.prototype || proto === null)) {
      return Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]);
    }
    let ref = refs.get(value);
    if (ref === undefined) refs.set(value, (ref = ++nextRef));
    return `ref:${ref}`;
  };

  const keyOf = (options: SMTPTransportOptions): string => {
    const { auth, ...rest } = options;
    const hmac = (value: unknown) => (typeof value === 'string' ? createHmac('sha256', secret).update(value).digest('base64url') : canonical(value));
    const token = auth && 'accessToken' in auth ? { accessToken: hmac(auth.accessToken) } : {};
    const login = auth ? { ...auth, pass: hmac(auth.pass), ...token } : null;
    return JSON.stringify(canonical({ ...rest, auth: login }));
  };

  const closeEntry = (entry: Entry) => {
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = null;
    if (entries.get(entry.key) === entry) entries.delete(entry.key);
    open.delete(entry);
    entry.transport.close();
  };

  /** Closes the least recently used idle transports while there are too many. */
  const trim = () => {
    for (const entry of entries.values()) {
      if (entries.size <= maxTransports) return;
      if (entry.inFlight === 0) closeEntry(entry);
    }
  };

  const oneOff = (options: SMTPTransportOptions): SmtpLease => {
    const transport = nodemailer.createTransport({ ...options, pool: true, maxConnections: 1, maxMessages: 1 });
    return { transport, release: () => transport.close() };
  };

  return {
    acquire(options) {
      if (closed) return oneOff(options);
      const key = keyOf(options);
      let entry = entries.get(key);
      if (entry) {
        entries.delete(key);
      } else {
        entry = {
          key,
          transport: nodemailer.createTransport({
            ...options,
            pool: true,
            maxConnections: 1,
            maxMessages: maxMessagesPerConnection,
            // The connection itself says QUIT when idle; the transport is dropped a little later.
            idleTimeout: idleMs,
          }),
          inFlight: 0,
          retired: false,
          idleTimer: null,
        };
        open.add(entry);
      }
      entries.set(key, entry);
      if (entry.idleTimer) clearTimeout(entry.idleTimer);
      entry.idleTimer = null;
      entry.inFlight++;
      trim();
      const leased = entry;
      let released = false;
      return {
        transport: leased.transport,
        release(broken) {
          if (released) return;
          released = true;
          leased.inFlight--;
          if (!open.has(leased)) return;
          if (broken && !leased.retired) {
            leased.retired = true;
            if (entries.get(leased.key) === leased) entries.delete(leased.key);
          }
          if (leased.inFlight > 0) return;
          if (leased.retired) {
            closeEntry(leased);
          } else {
            leased.idleTimer = setTimeout(() => {
              if (leased.inFlight === 0) closeEntry(leased);
            }, idleMs + 1_000);
            leased.idleTimer.unref();
            trim();
          }
        },
      };
    },
    get size() {
      return entries.size;
    },
    close() {
      closed = true;
      for (const entry of [...open]) closeEntry(entry);
    },
  };
}
