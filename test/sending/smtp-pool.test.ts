/**
 * Reused SMTP connections (src/sending/smtp-pool.ts through sendSmtp), against
 * a real smtp-server on 127.0.0.1 that counts the connections it accepts and
 * closes: one connection per inbox for consecutive and concurrent messages, a
 * new one per identity (another login, a changed password), a fresh start
 * after a refused login, nothing lost or resent when the server drops a
 * pooled connection, idle and surplus transports closed, and close() leaving
 * no socket open. The last test runs the campaign engine (startWorker, which
 * owns the pool) and counts its connections.
 */
import { makeOutboundGuard } from '../../src/net/outbound-guard.ts';
import { generateKeyPairSync } from 'node:crypto';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { createSmtpPool, type SmtpTransportPool } from '../../src/sending/smtp-pool.ts';
import { sendSmtp, type OutgoingMail, type SmtpOutcome, type SmtpSettings } from '../../src/sending/smtp.ts';
import { eventually } from '../helpers/eventually.ts';
import { createCampaign, createSender, createTenant, lifecycle, messagesOf, startWorld } from './support/world.ts';

const privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

let counter = 0;
function mail(from = 'sam@pool.example', domain = 'pool.example'): OutgoingMail {
  const n = ++counter;
  return {
    fromName: 'Sam', fromAddress: from, to: `lead${n}@recipient.example`, replyTo: null,
    subject: `Message ${n}`, html: `<p>Message ${n}</p>`, text: `Message ${n}`,
    messageId: `${crypto.randomUUID()}@${domain}`, inReplyTo: null, unsubscribeUrl: `http://127.0.0.1/u/${n}`,
    dkim: { domainName: domain, keySelector: 'pm', privateKey },
  };
}

interface Received {
  to: string;
  session: string;
  user: string | undefined;
}

interface CountingServer {
  port: number;
  /** Connections accepted (session ids, in order). */
  connects: string[];
  /** Connections whose socket has closed. */
  closes: string[];
  /** Passwords tried, in order. */
  logins: Array<{ user: string; password: string }>;
  received: Received[];
  /** Connections open right now (accepted and not closed). */
  open(): number;
  /** Destroys every open socket from the server's side. */
  dropAll(): void;
  drop(sessionId: string): void;
  close(): Promise<void>;
}

type Hooks = {
  /** Accepted passwords per user; unset: no AUTH offered. */
  passwords?: Map<string, string>;
  onMailFrom?: SMTPServerOptions['onMailFrom'];
  /** Instead of answering DATA: called with the message received (the test decides). */
  afterData?: (session: SMTPServerSession, accept: () => void) => void;
};

async function startCountingServer(hooks: Hooks = {}): Promise<CountingServer> {
  const connects: string[] = [];
  const closes: string[] = [];
  const logins: CountingServer['logins'] = [];
  const received: Received[] = [];
  const server: SMTPServer = new SMTPServer({
    authOptional: !hooks.passwords,
    allowInsecureAuth: true,
    disabledCommands: hooks.passwords ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    logger: false,
    onConnect(session, callback) {
      connects.push(session.id);
      callback();
    },
    onClose(session) {
      closes.push(session.id);
    },
    onAuth(auth, _session, callback) {
      logins.push({ user: auth.username ?? '', password: auth.password ?? '' });
      if (hooks.passwords?.get(auth.username ?? '') === auth.password) return callback(null, { user: auth.username });
      return callback(new Error('Invalid credentials'));
    },
    onMailFrom: hooks.onMailFrom ?? ((_address, _session, callback) => callback()),
    onData(stream, session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        const accept = () => {
          for (const r of session.envelope.rcptTo) received.push({ to: r.address, session: session.id, user: session.user as string | undefined });
          callback();
        };
        if (hooks.afterData) hooks.afterData(session, accept);
        else accept();
      });
    },
  });
  // Connections this test drops end in resets, which the server emits as errors.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as { port: number }).port;
  const drop = (sessionId: string) => {
    for (const c of server.connections) if (c.id === sessionId) c._socket.destroy();
  };
  return {
    port, connects, closes, logins, received,
    open: () => connects.filter((id) => !closes.includes(id)).length,
    dropAll: () => [...server.connections].forEach((c) => c._socket.destroy()),
    drop,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const servers: CountingServer[] = [];
const pools: SmtpTransportPool[] = [];
async function server(hooks?: Hooks) {
  const s = await startCountingServer(hooks);
  servers.push(s);
  return s;
}
function pool(options?: Parameters<typeof createSmtpPool>[0]) {
  const p = createSmtpPool(options);
  pools.push(p);
  return p;
}
afterEach(async () => {
  for (const p of pools.splice(0)) p.close();
  for (const s of servers.splice(0)) {
    s.dropAll();
    await s.close();
  }
});

const settings = (port: number, username?: string): SmtpSettings => ({ host: '127.0.0.1', port, secure: false, require_tls: false, ...(username ? { username } : {}) });
const options = { timeoutMs: 5_000, outbound: makeOutboundGuard({ allowPrivate: ['127.0.0.1'] }) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function accepted(outcome: SmtpOutcome) {
  expect(outcome).toEqual({ kind: 'accepted', response: expect.stringMatching(/^250 /) });
}

test('consecutive messages from one inbox share one connection (and without a pool each opens its own)', async () => {
  const s = await server();
  const p = pool();
  const sent: OutgoingMail[] = [];
  for (let i = 0; i < 5; i++) {
    const m = mail();
    sent.push(m);
    accepted(await sendSmtp(settings(s.port), null, m, options, p));
  }
  expect(s.received.map((r) => r.to)).toEqual(sent.map((m) => m.to));
  expect(s.connects).toHaveLength(1);
  expect(new Set(s.received.map((r) => r.session))).toEqual(new Set(s.connects));
  expect(p.size).toBe(1);

  // The same five without a pool: five connections, each closed after its message.
  for (let i = 0; i < 5; i++) accepted(await sendSmtp(settings(s.port), null, mail(), options));
  expect(s.connects).toHaveLength(6);
  await eventually(async () => s.closes.length === 5);
});

test('messages sent at the same time from one inbox queue on its one connection', async () => {
  const s = await server();
  const p = pool();
  const outcomes = await Promise.all(Array.from({ length: 6 }, () => sendSmtp(settings(s.port), null, mail(), options, p)));
  outcomes.forEach(accepted);
  expect(s.received).toHaveLength(6);
  expect(s.connects).toHaveLength(1);
});

test('two inboxes use two connections, each logged in as its own user', async () => {
  const s = await server({ passwords: new Map([['anna', 'pw-a'], ['bert', 'pw-b']]) });
  const p = pool();
  for (let i = 0; i < 3; i++) {
    accepted(await sendSmtp(settings(s.port, 'anna'), 'pw-a', mail('anna@pool.example'), options, p));
    accepted(await sendSmtp(settings(s.port, 'bert'), 'pw-b', mail('bert@pool.example'), options, p));
  }
  expect(s.connects).toHaveLength(2);
  expect(s.logins).toEqual([{ user: 'anna', password: 'pw-a' }, { user: 'bert', password: 'pw-b' }]);
  const bySession = new Map<string, Set<string | undefined>>();
  for (const r of s.received) bySession.set(r.session, (bySession.get(r.session) ?? new Set()).add(r.user));
  expect([...bySession.values()].map((users) => [...users])).toEqual([['anna'], ['bert']]);
  expect(s.received).toHaveLength(6);
  expect(p.size).toBe(2);
});

test('a refused login retires the transport; the next message logs in afresh, with a changed password too', async () => {
  const passwords = new Map([['sam', 'old-password']]);
  const s = await server({ passwords });
  const p = pool();
  accepted(await sendSmtp(settings(s.port, 'sam'), 'old-password', mail(), options, p));
  expect(s.connects).toHaveLength(1);

  // The mailbox provider changes the password: the pooled connection is still logged in with
  // the old one, but the inbox now sends with the new one, which is a new connection.
  passwords.set('sam', 'new-password');
  accepted(await sendSmtp(settings(s.port, 'sam'), 'new-password', mail(), options, p));
  expect(s.connects).toHaveLength(2);
  expect(s.logins.at(-1)).toEqual({ user: 'sam', password: 'new-password' });

  // A wrong password: deferred with the inbox's error (as without a pool), and the transport is dropped.
  const refused = await sendSmtp(settings(s.port, 'sam'), 'typo', mail(), options, p);
  expect(refused).toEqual({ kind: 'deferred', code: 535, response: '535 Invalid credentials', inboxError: 'SMTP login to 127.0.0.1 failed: 535 Invalid credentials', authFailed: true });
  expect(p.size).toBe(2); // old-password and new-password (idle until they time out); not the refused one
  await eventually(async () => s.open() === 2);

  // Once the server takes that password, the same settings log in again on a new connection.
  passwords.set('sam', 'typo');
  const before = s.connects.length;
  accepted(await sendSmtp(settings(s.port, 'sam'), 'typo', mail(), options, p));
  expect(s.connects).toHaveLength(before + 1);
  expect(s.logins.at(-1)).toEqual({ user: 'sam', password: 'typo' });
  expect(s.received).toHaveLength(3);
});

test('after the server drops an idle pooled connection, the next message goes out on a fresh one', async () => {
  const s = await server();
  const p = pool();
  accepted(await sendSmtp(settings(s.port), null, mail(), options, p));
  s.dropAll();
  await eventually(async () => s.closes.length === 1);
  const m = mail();
  accepted(await sendSmtp(settings(s.port), null, m, options, p));
  expect(s.connects).toHaveLength(2);
  expect(s.received.filter((r) => r.to === m.to)).toHaveLength(1);
});

test('a pooled connection dropped before the message was written: sent once over a fresh connection', async () => {
  let mailFroms = 0;
  const s = await server({
    onMailFrom(_address, session, callback) {
      // The second message on the first connection: the server goes away at MAIL FROM.
      if (++mailFroms === 2) return s.drop(session.id);
      callback();
    },
  });
  const p = pool();
  accepted(await sendSmtp(settings(s.port), null, mail(), options, p));
  const m = mail();
  accepted(await sendSmtp(settings(s.port), null, m, options, p));
  expect(s.connects).toHaveLength(2);
  expect(s.received.filter((r) => r.to === m.to)).toEqual([{ to: m.to, session: s.connects[1], user: undefined }]);
});

test('a connection dropped after the message was written is reported as unconfirmed and never resent by the pool', async () => {
  let datas = 0;
  const s = await server({
    afterData(session, accept) {
      // The second message is received in full, then the connection drops before the answer.
      if (++datas === 2) {
        s.received.push({ to: session.envelope.rcptTo[0]!.address, session: session.id, user: undefined });
        return s.drop(session.id);
      }
      accept();
    },
  });
  const p = pool();
  accepted(await sendSmtp(settings(s.port), null, mail(), options, p));
  const m = mail();
  const outcome = await sendSmtp(settings(s.port), null, m, options, p);
  expect(outcome).toMatchObject({ kind: 'unconfirmed', reason: expect.stringMatching(/after the end of the message \(ECONNECTION: Connection closed unexpectedly/) });
  await sleep(500);
  expect(s.received.filter((r) => r.to === m.to)).toHaveLength(1);
  expect(p.size).toBe(0);
  // The next message starts a new connection.
  accepted(await sendSmtp(settings(s.port), null, mail(), options, p));
  expect(s.connects).toHaveLength(2);
});

test('a transport retired after an error lets the messages queued behind it finish', async () => {
  let mailFroms = 0;
  const s = await server({
    onMailFrom(_address, _session, callback) {
      if (++mailFroms === 1) return callback(Object.assign(new Error('Try again later'), { responseCode: 421 }));
      callback();
    },
  });
  const p = pool();
  const [first, second, third] = await Promise.all([0, 1, 2].map(() => sendSmtp(settings(s.port), null, mail(), options, p)));
  expect(first).toMatchObject({ kind: 'deferred', code: 421 });
  accepted(second!);
  accepted(third!);
  expect(s.received).toHaveLength(2);
});

test('idle transports are closed, and beyond the bound the least recently used ones', async () => {
  const s = await server();
  const idle = pool({ idleMs: 200 });
  accepted(await sendSmtp(settings(s.port), null, mail(), options, idle));
  expect(s.open()).toBe(1);
  await eventually(async () => s.open() === 0 && idle.size === 0, 5_000);

  const bounded = pool({ maxTransports: 2 });
  for (const domain of ['a.example', 'b.example', 'c.example']) {
    accepted(await sendSmtp(settings(s.port), null, mail(`sam@${domain}`, domain), options, bounded));
  }
  expect(bounded.size).toBe(2);
  await eventually(async () => s.open() === 2);
  // a.example was the least recently used: b.example still has its connection.
  const before = s.connects.length;
  accepted(await sendSmtp(settings(s.port), null, mail('sam@b.example', 'b.example'), options, bounded));
  expect(s.connects).toHaveLength(before);
});

test('close() closes every connection; a message after it still goes out, on a connection of its own', async () => {
  const s = await server({ passwords: new Map([['anna', 'pw-a'], ['bert', 'pw-b']]) });
  const p = pool();
  accepted(await sendSmtp(settings(s.port, 'anna'), 'pw-a', mail(), options, p));
  accepted(await sendSmtp(settings(s.port, 'bert'), 'pw-b', mail(), options, p));
  expect(s.open()).toBe(2);
  p.close();
  expect(p.size).toBe(0);
  // (1 s: well within the 5 s socket timeout after which an idle connection would end anyway.)
  await eventually(async () => s.open() === 0, 1_000);

  accepted(await sendSmtp(settings(s.port, 'anna'), 'pw-a', mail(), options, p));
  expect(s.connects).toHaveLength(3);
  expect(p.size).toBe(0);
  await eventually(async () => s.open() === 0, 1_000);
});

test('the campaign engine sends an inbox\'s messages over one connection, closed when the worker stops', async () => {
  const w = await startWorld({ concurrency: 2 });
  const s = await server();
  try {
    const tenant = await createTenant(w, 'pooled');
    const sender = await createSender(w, tenant.tenantId, [{ port: s.port }]);
    const { campaignId } = await createCampaign(w, tenant.tenantId, {
      inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: [{}, {}, {}, {}, {}],
    });
    await lifecycle(w, tenant.token, 'start', campaignId);
    const rows = await eventually(async () => {
      const r = await messagesOf(w, campaignId);
      return r.length === 5 && r.every((m: { status: string }) => m.status === 'sent') && r;
    }, 20_000);
    expect(rows).toHaveLength(5);
    expect(s.received).toHaveLength(5);
    expect(s.connects).toHaveLength(1);
    expect(s.open()).toBe(1);
    await w.stopWorker();
    // (1 s: well within the 5 s socket timeout after which an idle connection would end anyway.)
    await eventually(async () => s.open() === 0, 1_000);
  } finally {
    await w.close();
  }
});
