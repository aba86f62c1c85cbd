/**
 * The end of an SMTP transfer is in the engine's hands (sendSmtp's
 * `beforeFinalDot`), against a real smtp-server on 127.0.0.1 that records
 * what it has received of each message: the hook runs after the signed
 * message went into the connection and before the final "." (the server has
 * body bytes and no complete message yet); a failing hook means no dot (the
 * server keeps nothing, the outcome is a retry); after the dot, a connection
 * lost without an answer is unconfirmed, never a retry.
 */
import { generateKeyPairSync } from 'node:crypto';
import { SMTPServer } from 'smtp-server';
import { makeOutboundGuard } from '../../src/net/outbound-guard.ts';
import { createSmtpPool } from '../../src/sending/smtp-pool.ts';
import { sendSmtp, type OutgoingMail, type SmtpSettings } from '../../src/sending/smtp.ts';
import { eventually } from '../helpers/eventually.ts';

const privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

let counter = 0;
function mail(): OutgoingMail {
  const n = ++counter;
  return {
    fromName: 'Sam', fromAddress: 'sam@handover.example', to: `lead${n}@recipient.example`, replyTo: null,
    subject: `Message ${n}`, html: `<p>${'Long enough to span several writes. '.repeat(2000)}</p>`, text: `Message ${n}`,
    messageId: `${crypto.randomUUID()}@handover.example`, inReplyTo: null, unsubscribeUrl: `http://127.0.0.1/u/${n}`,
    dkim: { domainName: 'handover.example', keySelector: 'pm', privateKey },
  };
}

interface Transfer {
  to: string;
  bytes: number;
  complete: boolean;
}

/** What the server got of each message; `dropAfterData` closes the connection after a complete message instead of answering. */
async function startServer(options: { dropAfterData?: () => boolean } = {}) {
  const transfers: Transfer[] = [];
  const closed: string[] = [];
  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onClose(session) {
      closed.push(session.id);
    },
    onData(stream, session, callback) {
      const transfer: Transfer = { to: session.envelope.rcptTo[0]!.address, bytes: 0, complete: false };
      transfers.push(transfer);
      stream.on('data', (chunk: Buffer) => {
        transfer.bytes += chunk.length;
      });
      stream.on('end', () => {
        transfer.complete = true;
        if (options.dropAfterData?.()) {
          for (const c of server.connections) if (c.id === session.id) c._socket.destroy();
          return;
        }
        callback();
      });
    },
  });
  // Connections this test drops end in resets, which the server emits as errors.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as { port: number }).port;
  return { port, transfers, closed, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const settings = (port: number): SmtpSettings => ({ host: '127.0.0.1', port, secure: false });
// The local peer is on 127.0.0.1: allowed past the outbound guard, as in every test.
const options = { timeoutMs: 20_000, outbound: makeOutboundGuard({ allowPrivate: ['127.0.0.1'] }) };

test('the hook runs after the message went into the connection and before the final dot', async () => {
  const s = await startServer();
  const pool = createSmtpPool();
  const m = mail();
  let seenAtHook: Transfer | undefined;
  const outcome = await sendSmtp(settings(s.port), null, m, options, pool, {
    async beforeFinalDot() {
      // The body reaches the server while the dot is held back; the message is not complete there.
      const transfer = await eventually(async () => s.transfers.find((t) => t.to === m.to && t.bytes > 60_000), 20_000);
      seenAtHook = { ...transfer };
    },
  });
  expect(outcome).toMatchObject({ kind: 'accepted' });
  expect(seenAtHook).toMatchObject({ complete: false });
  expect(s.transfers.filter((t) => t.to === m.to)).toEqual([expect.objectContaining({ complete: true })]);
  pool.close();
  await s.close();
});

test('a failing hook: no final dot, the server keeps nothing, the outcome is a retry, and the next message goes out', async () => {
  const s = await startServer();
  const pool = createSmtpPool();
  const m = mail();
  const outcome = await sendSmtp(settings(s.port), null, m, options, pool, {
    async beforeFinalDot() {
      throw new Error('the database is gone');
    },
  });
  expect(outcome).toMatchObject({ kind: 'deferred', code: null, response: expect.stringContaining('the database is gone') });
  // The connection is closed without the dot: the server discards the unfinished message.
  await eventually(async () => s.closed.length === 1, 20_000);
  expect(s.transfers.filter((t) => t.to === m.to)).toEqual([expect.objectContaining({ complete: false })]);

  const next = mail();
  expect(await sendSmtp(settings(s.port), null, next, options, pool, { beforeFinalDot: async () => undefined })).toMatchObject({ kind: 'accepted' });
  expect(s.transfers.filter((t) => t.complete).map((t) => t.to)).toEqual([next.to]);
  pool.close();
  await s.close();
});

test('the connection lost after the final dot and before the answer: unconfirmed, whatever the pool does', async () => {
  let drops = 1;
  const s = await startServer({ dropAfterData: () => drops-- > 0 });
  const pool = createSmtpPool();
  const m = mail();
  let hookRan = false;
  const outcome = await sendSmtp(settings(s.port), null, m, options, pool, {
    async beforeFinalDot() {
      hookRan = true;
    },
  });
  expect(hookRan).toBe(true);
  expect(outcome).toMatchObject({ kind: 'unconfirmed', reason: expect.stringContaining('no answer from 127.0.0.1 after the end of the message') });
  // The server has it once; nothing sends it again.
  const next = mail();
  expect(await sendSmtp(settings(s.port), null, next, options, pool)).toMatchObject({ kind: 'accepted' });
  expect(s.transfers.filter((t) => t.to === m.to && t.complete)).toHaveLength(1);
  pool.close();
  await s.close();
});
