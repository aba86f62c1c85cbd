/**
 * A real SMTP server on 127.0.0.1 (smtp-server) that keeps every message it
 * receives, parsed with postal-mime, so tests can read what was sent.
 */
import PostalMime, { type Email } from 'postal-mime';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { waitBudget } from './eventually.ts';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The client's address (the IP the sender's connection left from). */
  remoteAddress: string;
  raw: Buffer;
  parsed: Email;
}

export interface TestSmtpServer {
  port: number;
  url: string;
  messages: ReceivedMail[];
  /** Resolves with the first message (already received or arriving) that matches. */
  waitFor(match: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/** Optional test hooks around a received message. */
export interface SmtpServerHooks {
  /** Runs after the message is stored, before the server answers 250 (e.g. to kill the sending process in that window). */
  beforeAccept?: (mail: ReceivedMail) => Promise<void> | void;
}

export async function startSmtpServer(options: Partial<SMTPServerOptions> = {}, hooks: SmtpServerHooks = {}): Promise<TestSmtpServer> {
  const messages: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    // close() drops clients still connected after this (smtp-server waits 30 s by default): a test's
    // teardown must not hang on a kept-alive connection of the code under test.
    closeTimeout: 1000,
    ...options,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks);
        const parsed = await PostalMime.parse(raw);
        const mail: ReceivedMail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          remoteAddress: session.remoteAddress,
          raw,
          parsed,
        };
        messages.push(mail);
        for (const wake of waiters) wake();
        if (hooks.beforeAccept) await hooks.beforeAccept(mail);
        callback();
      });
    },
  });
  // A client that goes away mid-conversation (a killed worker, a dropped
  // connection) ends in a reset, which the server emits as an error.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    waitFor(match, timeoutMs = 10_000) {
      const budget = waitBudget(timeoutMs);
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(match);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching email within ${budget} ms (received ${messages.length})`));
        }, budget);
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
