/**
 * The sandbox's mail catcher: a real SMTP server (smtp-server) on 127.0.0.1
 * that accepts every message for every recipient, with or without a login
 * (any user name and password), delivers nothing and keeps what it got in
 * the store. No STARTTLS (the connection never leaves the machine): inboxes
 * pointing at it must not set `require_tls` or `secure`.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { Logger } from 'pino';
import { UserFacingError } from '../user-facing-error.ts';
import type { CaughtStore } from './store.ts';

/** Where the catcher listens; the sandbox allows exactly this address through the outbound guard. */
export const CATCHER_HOST = '127.0.0.1';
const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;

export interface Catcher {
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function startCatcher({ port, store, log }: { port: number; store: CaughtStore; log: Logger }): Promise<Catcher> {
  const server = new SMTPServer({
    name: 'sandbox.penguinmails.localhost',
    banner: 'PenguinMails sandbox mail catcher: messages are kept here, never delivered',
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    size: MAX_MESSAGE_BYTES,
    logger: false,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'sandbox' });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (stream.sizeExceeded) return callback(Object.assign(new Error(`Message exceeds ${MAX_MESSAGE_BYTES} bytes`), { responseCode: 552 }));
        const envelope = {
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          remoteAddress: session.remoteAddress,
          helo: session.hostNameAppearsAs ?? null,
        };
        store.add(Buffer.concat(chunks), envelope).then(
          (caught) => {
            log.info({ id: caught.id, to: envelope.rcptTo, subject: caught.subject }, `sandbox caught "${caught.subject ?? ''}" for ${envelope.rcptTo.join(', ')}`);
            callback(null, `Caught as ${caught.id}`);
          },
          (error: Error) => {
            log.error({ err: { message: error.message } }, 'sandbox could not read a caught message');
            callback(Object.assign(new Error('The sandbox could not read this message'), { responseCode: 451 }));
          },
        );
      });
    },
  });
  // A client that goes away mid-conversation ends in a reset, which the server emits as an error.
  server.on('error', (error) => log.debug({ err: { message: error.message } }, 'sandbox SMTP connection error'));
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new UserFacingError(`sandbox mail catcher: port ${port} on ${CATCHER_HOST} is already in use: stop that process or set SANDBOX_SMTP_PORT to a free port (0 picks one).`)
          : error,
      ),
    );
    server.listen(port, CATCHER_HOST, () => resolve());
  });
  return {
    host: CATCHER_HOST,
    port: (server.server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
