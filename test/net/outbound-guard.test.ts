/**
 * The outbound guard (src/net/outbound-guard.ts) in front of every connection
 * a tenant's settings point at. Refused hosts are refused before any
 * connection: listening servers on 127.0.0.1 and ::1 count the connections
 * they get and must see none. With the operator's allow-list the same hosts
 * work, and a hostname that only the test DNS server knows proves the
 * connection goes to the checked address (nothing resolves it a second time).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { makeSecretBox } from '../../src/crypto/secrets.ts';
import { createPool, sql, type ConnectionPool } from '../../src/db/pg.ts';
import { pollInbox } from '../../src/imap/poller.ts';
import type { WithClient } from '../../src/imap/store.ts';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import { isBlockedAddress, makeOutboundGuard, REFUSED_MESSAGE, scrubAddresses } from '../../src/net/outbound-guard.ts';
import { classifySmtpError, sendSmtp, type OutgoingMail } from '../../src/sending/smtp.ts';
import { startWorker } from '../../src/worker/runner.ts';
import { isolatedDatabase, testEnv } from '../helpers/api.ts';
import { resolverFor, startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { dovecotMissingReason, startDovecot } from '../helpers/dovecot.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';
import { eventually } from '../helpers/eventually.ts';
import { createSendingTenant } from '../tracking/fixtures.ts';

/** A TCP server that only counts the connections it gets. */
async function recordingServer(host: string): Promise<{ port: number; connections: number; close(): Promise<void> } | null> {
  const server = net.createServer((socket) => {
    state.connections++;
    socket.destroy();
  });
  const state = { port: 0, connections: 0, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
  } catch {
    return null; // no IPv6 on this machine
  }
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

const dkimKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const mail = (): OutgoingMail => ({
  fromName: 'Sam', fromAddress: 'sam@guard.example', to: 'lead@customer.example', replyTo: null,
  subject: 'Hello', html: '<p>Hi</p>', text: 'Hi', messageId: `${randomBytes(8).toString('hex')}@guard.example`,
  inReplyTo: null, unsubscribeUrl: 'https://t.example/u/x',
  dkim: { domainName: 'guard.example', keySelector: 'pm', privateKey: dkimKey },
});

let dns: TestDnsServer;
beforeAll(async () => {
  dns = await startDnsServer();
  dns.set('loop.guard.test', [{ type: 'A', address: '127.0.0.1' }]);
  dns.set('mixed.guard.test', [{ type: 'A', address: '93.184.215.14' }, { type: 'A', address: '10.1.2.3' }]);
  dns.set('v6loop.guard.test', [{ type: 'AAAA', address: '::1' }]);
  dns.set('localhost', [{ type: 'A', address: '127.0.0.1' }]);
});
afterAll(async () => {
  await dns?.close();
});

describe('address ranges', () => {
  test.each([
    '127.0.0.1', '127.9.9.9', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '100.64.0.1', '169.254.169.254',
    '0.0.0.0', '224.0.0.1', '255.255.255.255', '240.0.0.1', '192.0.2.10', '198.18.0.1',
    '::1', '::', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:7f00:1', '64:ff9b::a00:1', '2002:7f00:1::', 'fc00::1', 'fd12:3456::1',
    'fe80::1', 'fec0::1', 'ff02::1', '2001:db8::1', 'not-an-ip',
  ])('%s is refused', (address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });
  test.each(['93.184.215.14', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])('%s is public', (address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });
  test('the allow-list admits exactly its ranges, also in IPv4-mapped form', async () => {
    const guard = makeOutboundGuard({ allowPrivate: ['127.0.0.1/32', '10.9.0.0/16'] });
    await expect(guard.check('127.0.0.1')).resolves.toEqual({ address: '127.0.0.1', family: 4 });
    await expect(guard.check('::ffff:127.0.0.1')).resolves.toMatchObject({ family: 6 });
    await expect(guard.check('10.9.200.1')).resolves.toMatchObject({ address: '10.9.200.1' });
    await expect(guard.check('127.0.0.2')).rejects.toThrow(REFUSED_MESSAGE);
    await expect(guard.check('10.8.0.1')).rejects.toThrow(REFUSED_MESSAGE);
    expect(() => makeOutboundGuard({ allowPrivate: ['10.0.0.0/33'] })).toThrow(/not an IP address or CIDR/);
  });
  test('OUTBOUND_ALLOW_PRIVATE is validated at start-up', () => {
    expect(() => testEnv({ OUTBOUND_ALLOW_PRIVATE: 'localhost' })).toThrow(/OUTBOUND_ALLOW_PRIVATE: must be comma-separated CIDRs/);
    expect(testEnv({ OUTBOUND_ALLOW_PRIVATE: ' 10.0.0.0/8 , ::1 ' }).OUTBOUND_ALLOW_PRIVATE).toEqual(['10.0.0.0/8', '::1']);
  });
  test('addresses and ports are scrubbed from socket errors', () => {
    expect(scrubAddresses('connect ECONNREFUSED 10.0.0.7:25')).toBe('connect ECONNREFUSED [address]');
    expect(scrubAddresses('connect ECONNREFUSED ::1:143')).toBe('connect ECONNREFUSED [address]');
    const outcome = classifySmtpError(Object.assign(new Error('connect ECONNREFUSED 192.168.3.4:2525'), { code: 'ECONNREFUSED' }), 'mail.acme.test');
    expect(JSON.stringify(outcome)).not.toMatch(/192\.168|2525/);
  });
});

describe('SMTP', () => {
  let v4: NonNullable<Awaited<ReturnType<typeof recordingServer>>>;
  let v6: Awaited<ReturnType<typeof recordingServer>>;
  let smtp: TestSmtpServer;
  beforeAll(async () => {
    v4 = (await recordingServer('127.0.0.1'))!;
    v6 = await recordingServer('::1');
    smtp = await startSmtpServer();
  });
  afterAll(async () => {
    await v4?.close();
    await v6?.close();
    await smtp?.close();
  });

  test('loopback, a name resolving to loopback, ::1, IPv4-mapped and 10.x are refused without a connection', async () => {
    const strict = makeOutboundGuard({ resolver: resolverFor(dns) });
    const hosts = ['127.0.0.1', 'loop.guard.test', 'v6loop.guard.test', '::1', '[::1]', '::ffff:127.0.0.1', '10.0.0.1', 'mixed.guard.test'];
    for (const host of hosts) {
      const port = host.includes(':') || host.startsWith('v6') ? (v6?.port ?? v4.port) : v4.port;
      const started = Date.now();
      const outcome = await sendSmtp({ host, port }, null, mail(), { timeoutMs: 2_000, outbound: strict });
      expect(outcome).toEqual({
        kind: 'failed',
        reason: `Delivery through ${host} refused: ${REFUSED_MESSAGE}.`,
        inboxError: `SMTP server ${host}: ${REFUSED_MESSAGE}.`,
      });
      expect(Date.now() - started).toBeLessThan(1_000);
    }
    expect(v4.connections).toBe(0);
    expect(v6?.connections ?? 0).toBe(0);
  });

  test('a name that does not resolve is retried later, without a connection', async () => {
    const outcome = await sendSmtp({ host: 'nothing.guard.test', port: v4.port }, null, mail(), { outbound: makeOutboundGuard({ resolver: resolverFor(dns) }) });
    expect(outcome).toMatchObject({ kind: 'deferred', inboxError: 'SMTP server nothing.guard.test: the server name could not be resolved.' });
    expect(v4.connections).toBe(0);
  });

  test('with the allow-list the same hosts work, connecting to the checked address', async () => {
    const allowing = makeOutboundGuard({ allowPrivate: ['127.0.0.1/32', '::1/128'], resolver: resolverFor(dns) });
    expect(await sendSmtp({ host: '127.0.0.1', port: smtp.port }, null, mail(), { timeoutMs: 5_000, outbound: allowing })).toMatchObject({ kind: 'accepted' });
    // Only the test DNS server knows this name: had anything resolved it again, the connection would have failed.
    expect(await sendSmtp({ host: 'loop.guard.test', port: smtp.port }, null, mail(), { timeoutMs: 5_000, outbound: allowing })).toMatchObject({ kind: 'accepted' });
    expect(smtp.messages).toHaveLength(2);
    // The allow-list does not open anything else.
    expect(await sendSmtp({ host: '10.0.0.1', port: smtp.port }, null, mail(), { outbound: allowing })).toMatchObject({ kind: 'failed' });
  });

  test('without a guard sendSmtp refuses private addresses', async () => {
    expect(await sendSmtp({ host: '127.0.0.1', port: v4.port }, null, mail())).toMatchObject({ kind: 'failed', inboxError: `SMTP server 127.0.0.1: ${REFUSED_MESSAGE}.` });
    expect(v4.connections).toBe(0);
  });
});

const missing = dovecotMissingReason();
(missing ? describe.skip : describe)('IMAP', () => {
  let database: Awaited<ReturnType<typeof isolatedDatabase>>;
  let pool: pg.Pool;
  let owner: ConnectionPool;
  let withClient: WithClient;
  const secretBox = makeSecretBox(randomBytes(32).toString('hex'));
  beforeAll(async () => {
    database = await isolatedDatabase('outbound');
    pool = new pg.Pool({ connectionString: database.urls.owner, max: 3 });
    owner = createPool({ connectionString: database.urls.owner, bigIntMode: 'string', poolSize: 2 });
    withClient = async (fn) => {
      const client = await pool.connect();
      try {
        return await fn(client);
      } finally {
        client.release();
      }
    };
  });
  afterAll(async () => {
    await owner?.dispose();
    await pool?.end();
    await database?.drop();
  });

  const tenantWith = async (label: string, imapSettings: Record<string, unknown>, password = 'imap-password-1') => {
    const tenant = await createSendingTenant(owner, label, { leads: 1, imapSettings });
    await owner.query(sql`
      insert into app_private.email_account_credentials (tenant_id, email_account_id, imap_password_encrypted)
      values (${tenant.tenantId}, ${tenant.inboxId}, ${secretBox.encrypt(password)})
    `);
    return tenant;
  };
  const lastError = async (tenantId: string, inboxId: string) =>
    ((await owner.query(sql`select last_error from app_public.email_accounts where tenant_id = ${tenantId} and id = ${inboxId}`))[0] as { last_error: string | null })
      .last_error;

  test('refused hosts are never connected to, and lastError says only that the address is not allowed', async () => {
    const v4 = (await recordingServer('127.0.0.1'))!;
    const v6 = await recordingServer('::1');
    try {
      const strict = makeOutboundGuard({ resolver: resolverFor(dns) });
      for (const host of ['127.0.0.1', 'loop.guard.test', '::1', '10.0.0.1']) {
        const port = host === '::1' ? (v6?.port ?? v4.port) : v4.port;
        const tenant = await tenantWith(`refused-${host.replace(/[^a-z0-9]/gi, '')}`, { host, port, secure: false });
        const summary = await pollInbox(withClient, { secretBox, outbound: strict, timeoutMs: 2_000 }, { tenantId: tenant.tenantId, emailAccountId: tenant.inboxId });
        const expected = `IMAP connection to ${host}:${port} refused: ${REFUSED_MESSAGE}.`;
        expect(summary).toMatchObject({ status: 'failed', reason: expected });
        expect(await lastError(tenant.tenantId, tenant.inboxId)).toBe(expected);
      }
      expect(v4.connections).toBe(0);
      expect(v6?.connections ?? 0).toBe(0);
    } finally {
      await v4.close();
      await v6?.close();
    }
  });

  test('the worker takes its guard from OUTBOUND_ALLOW_PRIVATE: empty refuses, listed works (TLS checked against the name)', async () => {
    const dovecot = await startDovecot();
    try {
      const user = `guard-${process.pid}@acme.test`;
      await dovecot.addUser(user, 'imap-password-1');
      // "localhost" through the test DNS: the certificate names localhost, so TLS only passes with the name kept as servername.
      const tenant = await tenantWith('allowed', { host: 'localhost', port: dovecot.tlsPort, secure: true, username: user });
      const systemMailer = makeSystemMailer({ from: 'PenguinMails <no-reply@penguinmails.localhost>', outboxDir: path.join(os.tmpdir(), 'pm-outbox') });
      const run = async (allow: string) => {
        const env = testEnv({ LOG_LEVEL: 'error', OUTBOUND_ALLOW_PRIVATE: allow });
        const worker = await startWorker(database.urls.owner, { env, systemMailer, dns: resolverFor(dns), imap: { secretBox, tls: { ca: dovecot.ca }, timeoutMs: 5_000 } }, { crontab: '', pollInterval: 50 });
        try {
          await owner.query(sql`update app_public.email_accounts set last_polled_at = null, last_error = null where tenant_id = ${tenant.tenantId} and id = ${tenant.inboxId}`);
          await worker.runner.addJob('imap_poll_inbox', { tenant_id: tenant.tenantId, email_account_id: tenant.inboxId });
          return await eventually(async () => {
            const [row] = await owner.query(sql`select last_polled_at, last_error from app_public.email_accounts where tenant_id = ${tenant.tenantId} and id = ${tenant.inboxId}`);
            return row.last_polled_at ? (row as { last_error: string | null }) : null;
          }, 15_000);
        } finally {
          await worker.stop();
        }
      };
      expect((await run('')).last_error).toBe(`IMAP connection to localhost:${dovecot.tlsPort} refused: ${REFUSED_MESSAGE}.`);
      expect((await run('127.0.0.1/32')).last_error).toBeNull();
    } finally {
      await dovecot.stop();
    }
  });
});
