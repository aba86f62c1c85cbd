/**
 * The DNS checks against a real DNS server on 127.0.0.1 (dns2), through the
 * production resolver: correct, missing, duplicated, mis-copied (the 255-
 * character split), over-limit, null-MX, delegated and timing-out records,
 * each reaching the right status with a message that names the host, what was
 * found and what is expected.
 */
import { checkDkim } from '../../src/dns/check-dkim.ts';
import { checkDmarc } from '../../src/dns/check-dmarc.ts';
import { checkDomain } from '../../src/dns/check-domain.ts';
import { checkMx } from '../../src/dns/check-mx.ts';
import { checkSpf, type InboxProvider } from '../../src/dns/check-spf.ts';
import { generateDkimKeyPair, type DkimKeyPair } from '../../src/dkim/keys.ts';
import type { CheckPlan } from '../../src/dns/records.ts';
import type { DnsResolver } from '../../src/dns/resolver.ts';
import { resolverFor, startDnsServer, txtChunks, type TestDnsServer } from '../helpers/dns-server.ts';
import { publishPlatformSpf } from './fixtures.ts';

let dns: TestDnsServer;
let resolver: DnsResolver;
/** For the timeout test only: the server never answers a failed name, so a short wait is enough there. */
let impatient: DnsResolver;
let key: DkimKeyPair;
let dkimValue: string;
let n = 0;

const SPF = 'v=spf1 include:_spf.penguinmails.io -all';
const spfSpec = (domain: string, sendingIps: string[] = [], inboxProviders: InboxProvider[] = []) =>
  ({ domain, expected: SPF, platformInclude: '_spf.penguinmails.io', sendingIps, inboxProviders });
const dkimSpec = (domain: string) => ({ domain, selector: 'pm', publicKey: key.publicKey, expected: dkimValue });
const dmarcValue = (domain: string) => `v=DMARC1; p=quarantine; rua=mailto:dmarc@${domain}`;
/** A fresh domain name per test, so tests never see each other's records. */
const fresh = () => `d${++n}.acme.example`;

beforeAll(async () => {
  dns = await startDnsServer();
  // Answers get a generous timeout: on a loaded machine a local answer can take over a second.
  resolver = resolverFor(dns, 5_000);
  impatient = resolverFor(dns, 1_000);
  key = await generateDkimKeyPair();
  dkimValue = `v=DKIM1; k=rsa; p=${key.publicKey}`;
  publishPlatformSpf(dns);
});
afterAll(() => dns.close());

function publishAll(domain: string) {
  dns.set(domain, [
    { type: 'TXT', value: SPF, ttl: 900 },
    { type: 'TXT', value: 'google-site-verification=abc', ttl: 900 },
    { type: 'MX', priority: 10, exchange: 'mail.penguinmails.io', ttl: 1800 },
  ]);
  dns.set(`pm._domainkey.${domain}`, [{ type: 'TXT', value: txtChunks(dkimValue), ttl: 600 }]);
  dns.set(`_dmarc.${domain}`, [{ type: 'TXT', value: dmarcValue(domain), ttl: 3600 }]);
}

function planFor(domain: string, sendingIps: string[] = []): CheckPlan {
  const common = { verification_status: 'pending' as const, verification_attempts: 0, ttl: 3600 };
  return {
    domain,
    fingerprint: '0'.repeat(32),
    planned_at: new Date().toISOString(),
    spf_include: '_spf.penguinmails.io',
    sending_ips: sendingIps,
    inbox_providers: [],
    records: [
      { record_type: 'SPF', name: '@', value: SPF, ...common },
      { record_type: 'DKIM', name: 'pm._domainkey', selector: 'pm', value: dkimValue, public_key: key.publicKey, ...common },
      { record_type: 'DMARC', name: '_dmarc', value: dmarcValue(domain), policy: 'quarantine', ...common },
      { record_type: 'MX', name: '@', value: 'mail.penguinmails.io.', priority: 10, ...common },
    ],
  };
}

test('correctly published records all verify, with findings and observed TTLs', async () => {
  const domain = fresh();
  publishAll(domain);
  const results = await checkDomain(resolver, planFor(domain, ['203.0.113.9']));
  expect(results).toEqual([
    { record_type: 'SPF', name: '@', status: 'verified', error: null, ttl: 900, details: { dns_lookups: 1, void_lookups: 0 } },
    { record_type: 'DKIM', name: 'pm._domainkey', status: 'verified', error: null, ttl: 600, details: {} },
    { record_type: 'DMARC', name: '_dmarc', status: 'verified', error: null, ttl: 3600, details: { policy: 'quarantine' } },
    { record_type: 'MX', name: '@', status: 'verified', error: null, ttl: 1800, details: { mx_hosts: ['mail.penguinmails.io'] } },
  ]);
  // A DKIM record waiting for its key is not checked.
  const waiting = planFor(domain);
  waiting.records[1] = { ...waiting.records[1]!, record_type: 'DKIM', selector: 'pm', value: null, public_key: null };
  expect((await checkDomain(resolver, waiting)).map((r) => r.record_type)).toEqual(['SPF', 'DMARC', 'MX']);
});

test('missing records fail, each saying what to publish where', async () => {
  const domain = fresh();
  expect(await checkSpf(resolver, spfSpec(domain))).toMatchObject({
    status: 'failed',
    error: `No SPF record at ${domain}: publish a TXT record "${SPF}".`,
  });
  const dkim = await checkDkim(resolver, dkimSpec(domain));
  expect(dkim.status).toBe('failed');
  expect(dkim.error).toBe(
    `No DKIM record at pm._domainkey.${domain}: publish a TXT record "v=DKIM1; k=rsa; p=${key.publicKey.slice(0, 16)}…${key.publicKey.slice(-16)} (392 characters)" (the full value is in dnsRecords).`,
  );
  expect(await checkDmarc(resolver, { domain, expected: dmarcValue(domain) })).toMatchObject({
    status: 'failed',
    error: `No DMARC record at _dmarc.${domain}: publish a TXT record "${dmarcValue(domain)}".`,
  });
  expect(await checkMx(resolver, { domain, expected: '10 mail.penguinmails.io.' })).toMatchObject({
    status: 'failed',
    error: `No MX record at ${domain}: publish MX 10 mail.penguinmails.io. so that replies and bounces reach your inboxes.`,
  });
  // Other TXT records are named when no SPF record is among them.
  dns.set(domain, [{ type: 'TXT', value: 'google-site-verification=abc' }]);
  expect((await checkSpf(resolver, spfSpec(domain))).error).toBe(
    `No SPF record at ${domain} (its TXT records are "google-site-verification=abc", none starts with v=spf1): publish a TXT record "${SPF}".`,
  );
});

test('SPF: two records, a record without the platform, and an IP the record does not authorise', async () => {
  const domain = fresh();
  dns.set(domain, [
    { type: 'TXT', value: 'v=spf1 include:_spf.google.com ~all' },
    { type: 'TXT', value: SPF },
  ]);
  const twice = await checkSpf(resolver, spfSpec(domain));
  expect(twice.status).toBe('failed');
  expect(twice.error).toBe(
    `${domain} publishes 2 SPF records ("v=spf1 include:_spf.google.com ~all", "${SPF}"); receivers treat more than one as an error (permerror). ` +
      `Merge them into one TXT record that includes include:_spf.penguinmails.io, for example "${SPF}".`,
  );

  dns.set('_spf.google.com', [{ type: 'TXT', value: 'v=spf1 ip4:192.0.2.0/24 ~all' }]);
  dns.set(domain, [{ type: 'TXT', value: 'v=spf1 include:_spf.google.com ~all' }]);
  expect((await checkSpf(resolver, spfSpec(domain))).error).toBe(
    `The SPF record at ${domain} ("v=spf1 include:_spf.google.com ~all") does not include the platform: expected include:_spf.penguinmails.io, ` +
      `for example "v=spf1 include:_spf.google.com include:_spf.penguinmails.io ~all".`,
  );

  // Includes the platform and Google: the platform IP passes, an IP outside both fails.
  dns.set(domain, [{ type: 'TXT', value: 'v=spf1 include:_spf.google.com include:_spf.penguinmails.io -all' }]);
  expect(await checkSpf(resolver, spfSpec(domain, ['203.0.113.20']))).toMatchObject({ status: 'verified', details: { dns_lookups: 2, void_lookups: 0 } });
  const outside = await checkSpf(resolver, spfSpec(domain, ['203.0.113.20', '198.51.100.7']));
  expect(outside.status).toBe('failed');
  expect(outside.error).toBe(
    `The SPF record at ${domain} ("v=spf1 include:_spf.google.com include:_spf.penguinmails.io -all") does not authorise 198.51.100.7, ` +
      `an IP that sends for this domain (SPF result: fail); expected a pass through include:_spf.penguinmails.io, which lists the platform's sending IPs.`,
  );
});

test('SPF: a domain with Google or Microsoft inboxes must also include their servers', async () => {
  const domain = fresh();
  dns.set('_spf.google.com', [{ type: 'TXT', value: 'v=spf1 ip4:192.0.2.0/24 ~all' }]);
  dns.set('spf.protection.outlook.com', [{ type: 'TXT', value: 'v=spf1 ip4:198.51.100.0/24 -all' }]);
  dns.set(domain, [{ type: 'TXT', value: SPF }]);
  // The platform's include alone is enough without such inboxes.
  expect((await checkSpf(resolver, spfSpec(domain))).status).toBe('verified');
  const google = await checkSpf(resolver, spfSpec(domain, [], ['google']));
  expect(google.status).toBe('failed');
  expect(google.error).toBe(
    `The SPF record at ${domain} ("${SPF}") does not include Google Workspace, whose servers send the mail of this domain's Google Workspace inboxes: ` +
      `expected include:_spf.google.com, for example "v=spf1 include:_spf.penguinmails.io include:_spf.google.com -all".`,
  );
  expect((await checkSpf(resolver, spfSpec(domain, [], ['google', 'microsoft']))).error).toBe(
    `The SPF record at ${domain} ("${SPF}") does not include Google Workspace and Microsoft 365, whose servers send the mail of this domain's Google Workspace and Microsoft 365 inboxes: ` +
      `expected include:_spf.google.com and include:spf.protection.outlook.com, ` +
      `for example "v=spf1 include:_spf.penguinmails.io include:_spf.google.com include:spf.protection.outlook.com -all".`,
  );
  dns.set(domain, [{ type: 'TXT', value: 'v=spf1 include:_spf.penguinmails.io include:_spf.google.com include:spf.protection.outlook.com -all' }]);
  expect(await checkSpf(resolver, spfSpec(domain, ['203.0.113.20'], ['google', 'microsoft']))).toMatchObject({
    status: 'verified', details: { dns_lookups: 3, void_lookups: 0 },
  });
});

test('SPF: more than 10 lookups or more than 2 void lookups break the record', async () => {
  const domain = fresh();
  // A chain of includes, each costing a lookup: 1 (platform) + 11.
  const chain = Array.from({ length: 11 }, (_, i) => `inc${i}.${domain}`);
  chain.forEach((host, i) => dns.set(host, [{ type: 'TXT', value: i + 1 < chain.length ? `v=spf1 include:${chain[i + 1]} -all` : 'v=spf1 ip4:192.0.2.1 -all' }]));
  dns.set(domain, [{ type: 'TXT', value: `v=spf1 include:_spf.penguinmails.io include:${chain[0]} -all` }]);
  const tooMany = await checkSpf(resolver, spfSpec(domain));
  expect(tooMany).toMatchObject({ status: 'failed', details: { dns_lookups: 12, void_lookups: 0 } });
  expect(tooMany.error).toMatch(new RegExp(`^The SPF record at ${domain.replace(/\./g, '\\.')} needs 12 DNS lookups \\(include:_spf\\.penguinmails\\.io \\(at ${domain.replace(/\./g, '\\.')}\\), include:inc0`));
  expect(tooMany.error).toMatch(/receivers stop at 10 and treat the record as broken \(permerror\)\. Remove includes you do not send through, or replace them with ip4:\/ip6: ranges, keeping include:_spf\.penguinmails\.io\.$/);

  const voids = fresh();
  dns.set(voids, [{ type: 'TXT', value: `v=spf1 include:_spf.penguinmails.io a:gone1.${voids} mx:gone2.${voids} exists:gone3.${voids} -all` }]);
  const tooEmpty = await checkSpf(resolver, spfSpec(voids));
  expect(tooEmpty).toMatchObject({ status: 'failed', details: { dns_lookups: 4, void_lookups: 3 } });
  expect(tooEmpty.error).toBe(
    `The SPF record at ${voids} has 3 lookups that find nothing (a:gone1.${voids} (at ${voids}), mx:gone2.${voids} (at ${voids}), exists:gone3.${voids} (at ${voids})); ` +
      `receivers allow at most 2 and treat the record as broken (permerror). Remove the terms that point at names without records.`,
  );

  // An include without an SPF record breaks the record even within the limits.
  const broken = fresh();
  dns.set(broken, [{ type: 'TXT', value: `v=spf1 include:_spf.penguinmails.io include:nothing.${broken} -all` }]);
  expect(await checkSpf(resolver, spfSpec(broken))).toMatchObject({
    status: 'failed',
    error: `The SPF record at ${broken} refers to nothing.${broken}, which has no SPF record; receivers treat that as an error (permerror). Remove the reference or publish an SPF record there.`,
    details: { dns_lookups: 2, void_lookups: 1 },
  });

  // Exactly at the limits is fine.
  const edge = fresh();
  dns.set(`host.${edge}`, [{ type: 'A', address: '192.0.2.10' }]);
  dns.set(edge, [{ type: 'TXT', value: `v=spf1 include:_spf.penguinmails.io a:host.${edge} a:gone1.${edge} a:gone2.${edge} -all` }]);
  expect(await checkSpf(resolver, spfSpec(edge))).toMatchObject({ status: 'verified', details: { dns_lookups: 4, void_lookups: 2 } });
});

test('DKIM: the key is found through a CNAME delegation and with its TXT strings joined', async () => {
  const domain = fresh();
  dns.set(`pm._domainkey.${domain}`, [{ type: 'CNAME', target: `pm.dkim.provider.example` }]);
  dns.set('pm.dkim.provider.example', [{ type: 'TXT', value: txtChunks(dkimValue), ttl: 120 }]);
  // A recursive resolver chases the alias itself...
  expect(await checkDkim(resolver, dkimSpec(domain))).toMatchObject({ status: 'verified', error: null });
  expect(await resolver.ttl(`pm._domainkey.${domain}`, 'TXT')).toBe(120);
  // ...an authoritative answer gives the alias only, and the check follows it.
  dns.chaseCnames = false;
  try {
    expect(await checkDkim(resolver, dkimSpec(domain))).toMatchObject({ status: 'verified', ttlOf: { name: 'pm.dkim.provider.example', type: 'TXT' } });
    dns.set('pm.dkim.provider.example', [{ type: 'TXT', value: 'v=DKIM1; k=rsa; p=AAAA' }]);
    expect((await checkDkim(resolver, dkimSpec(domain))).error).toMatch(
      new RegExp(`^The DKIM key at pm\\._domainkey\\.${domain.replace(/\./g, '\\.')} \\(via CNAME pm\\.dkim\\.provider\\.example\\) is not this domain's key: found p=AAAA,`),
    );
  } finally {
    dns.chaseCnames = true;
  }
  // Strings split anywhere, and folding whitespace inside p=, are fine.
  const spaced = fresh();
  dns.set(`pm._domainkey.${spaced}`, [{ type: 'TXT', value: [dkimValue.slice(0, 100), ' ' + dkimValue.slice(100, 300), dkimValue.slice(300)] }]);
  expect((await checkDkim(resolver, dkimSpec(spaced))).status).toBe('verified');
});

test('DKIM: a key mis-copied around the 255-character split is recognised and explained', async () => {
  const host = (d: string) => `pm._domainkey.${d}`;
  const ends = (s: string) => `p=${s.slice(0, 16)}…${s.slice(-16)}`;

  const truncated = fresh();
  dns.set(host(truncated), [{ type: 'TXT', value: dkimValue.slice(0, 255) }]);
  const cut = await checkDkim(resolver, dkimSpec(truncated));
  const kept = dkimValue.slice(0, 255).slice('v=DKIM1; k=rsa; p='.length);
  expect(cut.status).toBe('failed');
  expect(cut.error).toBe(
    `The DKIM key at ${host(truncated)} is cut short: found ${kept.length} of its 392 characters (${ends(kept)} (${kept.length} characters)), expected ${ends(key.publicKey)} (392 characters). ` +
      `It was probably broken at the 255-character split of a TXT string: publish the whole value (as two quoted strings in one record if your DNS provider needs it).`,
  );

  const twoRecords = fresh();
  dns.set(host(twoRecords), [
    { type: 'TXT', value: dkimValue.slice(0, 255) },
    { type: 'TXT', value: dkimValue.slice(255) },
  ]);
  const split = await checkDkim(resolver, dkimSpec(twoRecords));
  expect(split.status).toBe('failed');
  expect(split.error).toMatch(new RegExp(`^The DKIM key at ${host(twoRecords).replace(/\./g, '\\.')} is split across 2 separate TXT records \\(`));
  expect(split.error).toMatch(/verifiers read each record on its own\. Publish one TXT record holding the whole value/);

  const quoted = fresh();
  dns.set(host(quoted), [{ type: 'TXT', value: `${dkimValue.slice(0, 200)}" "${dkimValue.slice(200)}` }]);
  const quotes = await checkDkim(resolver, dkimSpec(quoted));
  expect(quotes.status).toBe('failed');
  expect(quotes.error).toMatch(/contains quote marks .*: the value was pasted together with the quotes around its 255-character parts\./);

  const seam = fresh();
  // The provider's two strings, with the first character of the second lost.
  dns.set(host(seam), [{ type: 'TXT', value: [dkimValue.slice(0, 255), dkimValue.slice(256)] }]);
  const lost = await checkDkim(resolver, dkimSpec(seam));
  const at = 255 - 'v=DKIM1; k=rsa; p='.length;
  expect(lost.status).toBe('failed');
  expect(lost.error).toBe(
    `The DKIM key at ${host(seam)} differs from this domain's key where two of its TXT strings join (character ${at + 1} of the key): ` +
      `found "…${key.publicKey.slice(at - 6, at)}${key.publicKey.slice(at + 1, at + 7)}…", expected "…${key.publicKey.slice(at - 6, at + 6)}…". ` +
      `Characters were lost or added when the value was split into 255-character strings; publish the value again exactly as shown in dnsRecords (expected ${ends(key.publicKey)} (392 characters)).`,
  );

  const other = fresh();
  const otherKey = (await generateDkimKeyPair()).publicKey;
  dns.set(host(other), [{ type: 'TXT', value: txtChunks(`v=DKIM1; k=rsa; p=${otherKey}`) }]);
  expect((await checkDkim(resolver, dkimSpec(other))).error).toBe(
    `The DKIM key at ${host(other)} is not this domain's key: found ${ends(otherKey)} (392 characters), expected ${ends(key.publicKey)} (392 characters). Publish the value shown in dnsRecords.`,
  );
});

test('DMARC: two records, a record without a valid policy, and a subdomain covered by its organisational domain', async () => {
  const domain = fresh();
  dns.set(`_dmarc.${domain}`, [
    { type: 'TXT', value: 'v=DMARC1; p=none' },
    { type: 'TXT', value: 'v=DMARC1; p=reject' },
  ]);
  expect((await checkDmarc(resolver, { domain, expected: dmarcValue(domain) })).error).toBe(
    `_dmarc.${domain} has 2 DMARC records ("v=DMARC1; p=none", "v=DMARC1; p=reject"); receivers ignore DMARC when there is more than one. Keep a single record, for example "${dmarcValue(domain)}".`,
  );
  dns.set(`_dmarc.${domain}`, [{ type: 'TXT', value: 'v=DMARC1; p=maybe; rua=mailto:x@y.example' }]);
  expect((await checkDmarc(resolver, { domain, expected: dmarcValue(domain) })).error).toBe(
    `The DMARC record at _dmarc.${domain} ("v=DMARC1; p=maybe; rua=mailto:x@y.example") has no valid policy: p= must be none, quarantine or reject, for example "${dmarcValue(domain)}".`,
  );
  dns.set(`_dmarc.${domain}`, [{ type: 'TXT', value: 'v=DMARC1; p=reject; rua=mailto:d@acme.example' }]);
  expect(await checkDmarc(resolver, { domain, expected: dmarcValue(domain) })).toMatchObject({ status: 'verified', details: { policy: 'reject' } });

  const sub = `mail.${domain}`;
  expect(await checkDmarc(resolver, { domain: sub, expected: dmarcValue(sub) })).toMatchObject({
    status: 'verified',
    details: { policy: 'reject' },
    ttlOf: { name: `_dmarc.${domain}`, type: 'TXT' },
  });
});

test('MX: a null MX is refused; several hosts are recorded in priority order', async () => {
  const domain = fresh();
  dns.set(domain, [{ type: 'MX', priority: 0, exchange: '.' }]);
  expect(await checkMx(resolver, { domain, expected: '10 mail.penguinmails.io.' })).toMatchObject({
    status: 'failed',
    error: `${domain} publishes a null MX (MX 0 "."), which declares that it accepts no mail, so replies would bounce: replace it with MX 10 mail.penguinmails.io..`,
  });
  dns.set(domain, [
    { type: 'MX', priority: 20, exchange: 'backup.mx.example' },
    { type: 'MX', priority: 10, exchange: 'primary.mx.example' },
  ]);
  expect(await checkMx(resolver, { domain, expected: '10 mail.penguinmails.io.' })).toMatchObject({
    status: 'verified',
    details: { mx_hosts: ['primary.mx.example', 'backup.mx.example'] },
  });
});

test('a timeout or SERVFAIL is a temporary error naming the lookup, not a failure', async () => {
  const domain = fresh();
  publishAll(domain);
  dns.fail(`pm._domainkey.${domain}`, 'timeout');
  dns.fail(`_dmarc.${domain}`, 'servfail');
  dns.fail(domain, 'timeout');
  const started = Date.now();
  const results = await checkDomain(impatient, planFor(domain));
  expect(Date.now() - started).toBeLessThan(5000);
  expect(results.map((r) => [r.record_type, r.status, r.error])).toEqual([
    ['SPF', 'error', `Could not check the SPF record of ${domain}: the DNS lookup of TXT ${domain} timed out. This is usually temporary; the check will be retried.`],
    ['DKIM', 'error', `Could not check the DKIM record at pm._domainkey.${domain}: the DNS lookup of TXT pm._domainkey.${domain} timed out. This is usually temporary; the check will be retried.`],
    ['DMARC', 'error', `Could not check the DMARC record at _dmarc.${domain}: the DNS lookup of TXT _dmarc.${domain} failed at the DNS server (SERVFAIL). This is usually temporary; the check will be retried.`],
    ['MX', 'error', `Could not check the MX records of ${domain}: the DNS lookup of MX ${domain} timed out. This is usually temporary; the check will be retried.`],
  ]);
  // A timeout deep inside the SPF tree is temporary too.
  const deep = fresh();
  dns.set(deep, [{ type: 'TXT', value: `v=spf1 include:_spf.penguinmails.io include:slow.${deep} -all` }]);
  dns.fail(`slow.${deep}`, 'timeout');
  expect((await checkSpf(impatient, spfSpec(deep))).error).toBe(
    `Could not check the SPF record of ${deep}: the DNS lookup of TXT slow.${deep} timed out. This is usually temporary; the check will be retried.`,
  );
});
