/**
 * The whole flow over real peers: the GraphQL API on 127.0.0.1, the worker
 * running the deliverability tasks, and a real DNS server. A tenant adds a
 * domain, reads the exact records to publish, publishes them and watches the
 * domain verify; a timeout does not unverify it, a removed record does; the
 * DKIM key is a real 2048-bit key whose private half never leaves app_private;
 * keys come from the stock, and a rotation takes over once published.
 */
import os from 'node:os';
import path from 'node:path';
import { createPublicKey } from 'node:crypto';
import { openDkimPrivateKey, publicKeyOf } from '../../src/dkim/keys.ts';
import { DnsRecordsDocument } from '../../src/dns/records.ts';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import { startWorker, type WorkerHandle } from '../../src/worker/runner.ts';
import { registerUser, startTestApi, testEnv, type TestApi } from '../helpers/api.ts';
import { resolverFor, startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { eventually, waitBudget } from '../helpers/eventually.ts';
import { singleNodeTest } from '../helpers/engine.ts';
import { publish, publishPlatformSpf, secretBox, sendingIp } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
let dns: TestDnsServer;
let worker: WorkerHandle;

beforeAll(async () => {
  dns = await startDnsServer();
  publishPlatformSpf(dns);
  t = await startTestApi();
  // A small stock keeps the test fast; the stock starts empty.
  await t.owner.query(sql`insert into app_public.system_config (key, value) values ('deliverability.dkim_key_pool_size', '2')`);
  const env = testEnv({ LOG_LEVEL: 'error' });
  const systemMailer = makeSystemMailer({ from: env.MAIL_FROM, outboxDir: path.join(os.tmpdir(), 'pm-outbox') });
  worker = await startWorker(t.urls.owner, { env, systemMailer, dns: resolverFor(dns, 2_000), secretBox }, { pollInterval: 50, crontab: '' });
});
afterAll(async () => {
  await worker.stop();
  await t.close();
  await dns.close();
});

const DOMAIN_FIELDS = `rowId domain verificationStatus verifiedAt dnsRecords dnsVerificationError dnsVerificationAttempts dnsTtlObserved dnsLastVerifiedAt dnsNextCheckAt dkimSelector
  recordsToPublish { recordType host type value zoneValue ttl priority verificationStatus verificationError }`;
const CREATE = `mutation($domain: Hostname!) { createDomain(input: { domain: { domain: $domain } }) { domain { ${DOMAIN_FIELDS} } } }`;
const READ = `query($id: UUID!) { domain(rowId: $id) { ${DOMAIN_FIELDS} } }`;
// Creates, then reads: on Citus a mutation payload cannot hold computed columns (recordsToPublish).
const CREATE_ID = `mutation($domain: Hostname!) { createDomain(input: { domain: { domain: $domain } }) { domain { rowId } } }`;
const VERIFY = `mutation($id: UUID!) { verifyDomain(input: { domainId: $id }) { result { rowId verificationStatus } } }`;

interface DomainView {
  rowId: string;
  domain: string;
  verificationStatus: string;
  verifiedAt: string | null;
  dnsRecords: unknown;
  dnsVerificationError: string | null;
  dnsVerificationAttempts: number;
  dnsTtlObserved: number | null;
  dnsNextCheckAt: string | null;
  dkimSelector: string;
  recordsToPublish: Array<{ recordType: string; host: string; type: string; value: string | null; zoneValue: string | null; ttl: number; priority: number | null; verificationStatus: string; verificationError: string | null }>;
}

async function read(id: string, token: string): Promise<DomainView> {
  return (await t.ok(READ, { id }, token)).domain;
}

async function waitFor(id: string, token: string, done: (d: DomainView) => boolean, what: string): Promise<DomainView> {
  let last: DomainView | undefined;
  try {
    return await eventually(async () => {
      last = await read(id, token);
      return done(last) ? last : null;
    }, 15_000);
  } catch {
    throw new Error(`${what} did not happen; last state: ${JSON.stringify(last, null, 2)}`);
  }
}

test('done: a tenant adds a domain, reads the records to publish, publishes them, and the domain verifies', async () => {
  const owner = await registerUser(t, 'dns-done');
  const created = await t.ok(CREATE_ID, { domain: 'outreach.acme-done.example' }, owner.jwtToken);
  const domain: DomainView = (await t.ok(READ, { id: created.createDomain.domain.rowId }, owner.jwtToken)).domain;
  expect(domain.recordsToPublish.map((r) => [r.recordType, r.host, r.type])).toEqual([
    ['SPF', 'outreach.acme-done.example', 'TXT'],
    ['DKIM', 'pm._domainkey.outreach.acme-done.example', 'TXT'],
    ['DMARC', '_dmarc.outreach.acme-done.example', 'TXT'],
    ['MX', 'outreach.acme-done.example', 'MX'],
  ]);

  // The stock was empty: the DKIM value arrives within a second or so.
  const started = Date.now();
  const ready = await waitFor(domain.rowId, owner.jwtToken, (d) => d.recordsToPublish.every((r) => r.value !== null), 'DKIM key generation');
  const keyDelayMs = Date.now() - started;
  expect(keyDelayMs).toBeLessThan(waitBudget(10_000));
  const dkim = ready.recordsToPublish.find((r) => r.recordType === 'DKIM')!;
  expect(dkim.value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
  expect(dkim.zoneValue).toBe(`"${dkim.value!.slice(0, 255)}" "${dkim.value!.slice(255)}"`);

  // The first check already ran against the empty zone: failed, saying what to publish.
  const failedOnce = await waitFor(domain.rowId, owner.jwtToken, (d) => d.verificationStatus === 'FAILED', 'the first check');
  expect(failedOnce.dnsVerificationError).toContain(`No SPF record at outreach.acme-done.example: publish a TXT record "v=spf1 include:_spf.penguinmails.io -all".`);
  expect(failedOnce.recordsToPublish.map((r) => r.verificationStatus)).toEqual(['failed', 'failed', 'failed', 'failed']);
  const nextIn = (Date.parse(failedOnce.dnsNextCheckAt!) - Date.now()) / 1000;
  expect(nextIn).toBeGreaterThan(30);
  expect(nextIn).toBeLessThanOrEqual(60);

  // Publish exactly what the API said, then ask for a check.
  publish(dns, 'outreach.acme-done.example', DnsRecordsDocument.parse(ready.dnsRecords), 900);
  expect((await t.ok(VERIFY, { id: domain.rowId }, owner.jwtToken)).verifyDomain.result.rowId).toBe(domain.rowId);
  const verified = await waitFor(domain.rowId, owner.jwtToken, (d) => d.verificationStatus === 'VERIFIED', 'verification');
  expect(verified).toMatchObject({ dnsVerificationError: null, dnsTtlObserved: 900, dkimSelector: 'pm' });
  expect(verified.verifiedAt).not.toBeNull();
  expect(verified.recordsToPublish.map((r) => [r.recordType, r.verificationStatus, r.verificationError])).toEqual([
    ['SPF', 'verified', null],
    ['DKIM', 'verified', null],
    ['DMARC', 'verified', null],
    ['MX', 'verified', null],
  ]);
  const records = DnsRecordsDocument.parse(verified.dnsRecords).records;
  expect(records.find((r) => r.record_type === 'DMARC')).toMatchObject({ policy: 'quarantine' });
  expect(records.find((r) => r.record_type === 'MX')).toMatchObject({ mx_hosts: ['mail.penguinmails.io'] });
  expect(records.find((r) => r.record_type === 'SPF')).toMatchObject({ dns_lookups: 1, void_lookups: 0 });
  expect((Date.parse(verified.dnsNextCheckAt!) - Date.now()) / 3_600_000).toBeGreaterThan(23.9);

  // The key: 2048-bit RSA, the published p= is the public half of the sealed private key,
  // and nothing private ever appears in an API response.
  const [stored] = await t.owner.query(sql`select public_key, private_key_encrypted, key_bits from app_private.domain_dkim_keys where domain_id = ${domain.rowId}`);
  const pem = openDkimPrivateKey(secretBox, stored.private_key_encrypted, stored.public_key);
  expect(publicKeyOf(pem)).toBe(dkim.value!.slice('v=DKIM1; k=rsa; p='.length));
  expect(createPublicKey(pem).asymmetricKeyDetails?.modulusLength).toBe(2048);
  expect(stored.key_bits).toBe(2048);
  const body = JSON.stringify(verified);
  const privateBody = pem.replace(/-----[A-Z ]+-----|\s/g, '');
  expect(body).not.toContain('PRIVATE');
  expect(body).not.toContain(privateBody.slice(40, 100));
  expect(body).not.toContain(stored.private_key_encrypted.toString('base64').slice(0, 40));

  // An inbox on the verified domain starts warming up: 10 messages on its first (local) day.
  const { createEmailAccount } = await t.ok(
    `mutation($a: EmailAccountInput!) { createEmailAccount(input: { emailAccount: $a }) { emailAccount { rowId } } }`,
    { a: { domainId: domain.rowId, email: 'sam@outreach.acme-done.example', timezone: 'Europe/Paris' } },
    owner.jwtToken,
  );
  const { emailAccount: inbox } = await t.ok(
    `query($id: UUID!) { emailAccount(rowId: $id) { dailyLimit dailyAllowance warmupDay warmupStartedAt } }`,
    { id: createEmailAccount.emailAccount.rowId },
    owner.jwtToken,
  );
  expect(inbox).toMatchObject({ dailyLimit: 50, dailyAllowance: 10, warmupDay: 0 });
  expect(inbox.warmupStartedAt).not.toBeNull();
});

test('a verified domain stays verified through a DNS timeout and is re-checked sooner; a removed record unverifies it', async () => {
  const owner = await registerUser(t, 'dns-timeout');
  const domainName = 'mail.acme-timeout.example';
  const { createDomain } = await t.ok(CREATE_ID, { domain: domainName }, owner.jwtToken);
  const ready = await waitFor(createDomain.domain.rowId, owner.jwtToken, (d) => d.recordsToPublish.every((r) => r.value !== null), 'DKIM key');
  publish(dns, domainName, DnsRecordsDocument.parse(ready.dnsRecords));
  // An IP assigned to the domain must pass SPF through the platform include.
  const ip = await sendingIp(t.owner, 'warmed');
  await t.owner.query(sql`
    insert into app_public.domain_ip_assignments (tenant_id, domain_id, smtp_ip_address_id, status, warmup_state)
    values (${owner.tenantId}, ${ready.rowId}, ${ip.id}, 'active', 'warmed')`);
  await t.ok(VERIFY, { id: ready.rowId }, owner.jwtToken);
  const verified = await waitFor(ready.rowId, owner.jwtToken, (d) => d.verificationStatus === 'VERIFIED', 'verification');
  // No other check may still be queued or running when the DNS starts timing
  // out (a second timed-out check would double the retry delay measured below).
  await eventually(
    async () => (await t.owner.query(sql`select 1 from graphile_worker.jobs where task_identifier = 'verify_domain'`)).length === 0,
    30_000,
  );

  dns.fail(`pm._domainkey.${domainName}`, 'timeout');
  await t.ok(VERIFY, { id: ready.rowId }, owner.jwtToken);
  const through = await waitFor(ready.rowId, owner.jwtToken, (d) => (d.dnsVerificationError ?? '').includes('timed out'), 'the timed-out check');
  expect(through).toMatchObject({ verificationStatus: 'VERIFIED', verifiedAt: verified.verifiedAt });
  expect(through.dnsVerificationError).toBe(
    `Still verified; a temporary DNS problem will be retried: Could not check the DKIM record at pm._domainkey.${domainName}: the DNS lookup of TXT pm._domainkey.${domainName} timed out. This is usually temporary; the check will be retried.`,
  );
  expect(through.recordsToPublish.find((r) => r.recordType === 'DKIM')!.verificationStatus).toBe('error');
  const retryIn = (Date.parse(through.dnsNextCheckAt!) - Date.now()) / 1000;
  expect(retryIn).toBeGreaterThan(250);
  expect(retryIn).toBeLessThanOrEqual(300);
  dns.fail(`pm._domainkey.${domainName}`, null);

  // The tenant replaces the SPF record by one that leaves the platform out.
  dns.set(domainName, [
    { type: 'TXT', value: 'v=spf1 include:_spf.google.com ~all' },
    { type: 'MX', priority: 10, exchange: 'mail.penguinmails.io' },
  ]);
  await t.ok(VERIFY, { id: ready.rowId }, owner.jwtToken);
  const broken = await waitFor(ready.rowId, owner.jwtToken, (d) => d.verificationStatus === 'FAILED', 'unverification');
  expect(broken.verifiedAt).toBeNull();
  expect(broken.dnsVerificationError).toBe(
    `The SPF record at ${domainName} ("v=spf1 include:_spf.google.com ~all") does not include the platform: expected include:_spf.penguinmails.io, for example "v=spf1 include:_spf.google.com include:_spf.penguinmails.io ~all".`,
  );
});

singleNodeTest('computedColumnInMutationPayload', 'with keys in stock the records are complete in the createDomain response; a rotated key takes over once published', async () => {
  // The stock is topped up after every claim (and every ten minutes by cron).
  await t.owner.query(sql`select app_private.queue_dkim_pool_refill()`);
  await eventually(async () => {
    const [{ n }] = await t.owner.query(sql`select count(*)::int as n from app_private.dkim_key_pool where claimed_domain_id is null`);
    return n >= 2;
  }, 20_000);
  const owner = await registerUser(t, 'dns-stock');
  const domainName = 'go.acme-stock.example';
  const { createDomain } = await t.ok(CREATE, { domain: domainName }, owner.jwtToken);
  const domain: DomainView = createDomain.domain;
  expect(domain.recordsToPublish.every((r) => r.value !== null)).toBe(true);
  expect(domain.verificationStatus).toBe('VERIFYING');

  publish(dns, domainName, DnsRecordsDocument.parse(domain.dnsRecords));
  await t.ok(VERIFY, { id: domain.rowId }, owner.jwtToken);
  await waitFor(domain.rowId, owner.jwtToken, (d) => d.verificationStatus === 'VERIFIED', 'verification');

  const ROTATE = `mutation($id: UUID!) { rotateDomainDkimKey(input: { domainId: $id }) { result { ${DOMAIN_FIELDS} } } }`;
  const rotated: DomainView = (await t.ok(ROTATE, { id: domain.rowId }, owner.jwtToken)).rotateDomainDkimKey.result;
  const incoming = rotated.recordsToPublish.filter((r) => r.recordType === 'DKIM')[1]!;
  expect(incoming.host).toMatch(new RegExp(`^pm-\\d{14}\\._domainkey\\.${domainName.replace(/\./g, '\\.')}$`));
  const again = await t.gql(ROTATE, { id: domain.rowId }, owner.jwtToken);
  expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  expect(rotated.verificationStatus).toBe('VERIFIED');

  const waiting = await waitFor(domain.rowId, owner.jwtToken, (d) => d.recordsToPublish[4]?.verificationStatus === 'failed', 'the check of the new key');
  expect(waiting).toMatchObject({ verificationStatus: 'VERIFIED', dkimSelector: 'pm' });
  dns.set(incoming.host, [{ type: 'TXT', value: [incoming.value!.slice(0, 255), incoming.value!.slice(255)] }]);
  await t.ok(VERIFY, { id: domain.rowId }, owner.jwtToken);
  const switched = await waitFor(domain.rowId, owner.jwtToken, (d) => d.dkimSelector !== 'pm', 'the switch to the new key');
  expect(switched.verificationStatus).toBe('VERIFIED');
  expect(switched.recordsToPublish.filter((r) => r.recordType === 'DKIM').map((r) => r.host)).toEqual([incoming.host]);
});
