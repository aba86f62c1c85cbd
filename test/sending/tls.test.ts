/**
 * TLS as the inbox requires it, against real SMTP servers on 127.0.0.1 with a
 * certificate made for the test: implicit TLS (`secure`), STARTTLS enforced
 * (`require_tls`), and refusal to send in clear text when the server cannot
 * upgrade. A wrong password is the inbox's problem: the message waits for a
 * retry and the inbox shows the error.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';
import { eventually } from '../helpers/eventually.ts';
import { createCampaign, createSender, createTenant, lifecycle, messagesOf, startWorld, type InboxSpec, type World } from './support/world.ts';
import { sql } from '../../src/db/pg.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pm-smtp-tls-'));
execFileSync('openssl', [
  'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
  '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
], { stdio: 'ignore' });
const key = readFileSync(path.join(dir, 'key.pem'));
const cert = readFileSync(path.join(dir, 'cert.pem'));

let w: World;
let implicit: TestSmtpServer;
let starttls: TestSmtpServer;
const secured: Array<{ port: number; secure: boolean }> = [];

beforeAll(async () => {
  const track = (port: () => number) => (_address: unknown, session: { secure: boolean }, callback: () => void) => {
    secured.push({ port: port(), secure: session.secure });
    callback();
  };
  implicit = await startSmtpServer({ secure: true, key, cert, onMailFrom: track(() => implicit.port) });
  starttls = await startSmtpServer({ disabledCommands: [], key, cert, onMailFrom: track(() => starttls.port) });
  w = await startWorld({
    smtpClient: { tls: { ca: cert } },
    smtp: { allowInsecureAuth: true, onAuth: (auth, _s, callback) => (auth.password === 'right' ? callback(null, { user: auth.username }) : callback(new Error('Invalid credentials'))) },
  });
});
afterAll(async () => {
  await w.close();
  await implicit.close();
  await starttls.close();
});

async function sendOne(label: string, inbox: InboxSpec) {
  const tenant = await createTenant(w, label);
  const sender = await createSender(w, tenant.tenantId, [inbox]);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, { inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: [{}] });
  await lifecycle(w, tenant.token, 'start', campaignId);
  return { campaignId, lead: leads[0]!, inboxId: sender.inboxes[0]!.id };
}

test('an inbox with implicit TLS (secure) sends over TLS, verifying the server certificate', async () => {
  const { lead } = await sendOne('implicit', { port: implicit.port, secure: true });
  await implicit.waitFor((m) => m.to.includes(lead.email));
  expect(secured.filter((s) => s.port === implicit.port).every((s) => s.secure)).toBe(true);
});

test('an inbox requiring TLS upgrades with STARTTLS, and refuses to send in clear text when the server cannot', async () => {
  const { lead } = await sendOne('starttls', { port: starttls.port, requireTls: true });
  await starttls.waitFor((m) => m.to.includes(lead.email));
  expect(secured.filter((s) => s.port === starttls.port)).toEqual([{ port: starttls.port, secure: true }]);

  // The plain test server offers no STARTTLS: nothing may go out unencrypted.
  const plain = await sendOne('cleartext', { requireTls: true });
  const [deferred] = await eventually(async () => {
    const rows = await messagesOf(w, plain.campaignId);
    return rows[0]?.send_attempts === 1 && rows[0].status === 'queued' && rows;
  });
  expect(deferred.error_message).toMatch(/^Attempt 1 was deferred \(TLS could not be started: 500 .*\); the next attempt is at /);
  const [inbox] = await w.t.owner.query(sql`select last_error from app_public.email_accounts where id = ${plain.inboxId}`);
  expect(inbox.last_error).toMatch(/^127\.0\.0\.1 could not start TLS: 500 /);
  expect(w.smtp.messages.some((m) => m.to.includes(plain.lead.email))).toBe(false);
});

test('a wrong SMTP password keeps the message queued for a retry and shows the error on the inbox', async () => {
  const { campaignId, inboxId, lead } = await sendOne('badpass', { username: 'sam', password: 'wrong' });
  const [deferred] = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows[0]?.send_attempts === 1 && rows[0].status === 'queued' && rows;
  });
  expect(deferred.error_message).toMatch(/^Attempt 1 was deferred \(535 .*Invalid credentials\)/);
  const [inbox] = await w.t.owner.query(sql`select last_error from app_public.email_accounts where id = ${inboxId}`);
  expect(inbox.last_error).toBe('SMTP login to 127.0.0.1 failed: 535 Invalid credentials');
  expect(w.smtp.messages.some((m) => m.to.includes(lead.email))).toBe(false);
});
