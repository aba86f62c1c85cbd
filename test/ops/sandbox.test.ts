/**
 * The development sandbox, with the platform started as `npm start` starts
 * it: a tenant signs up with the confirmation email read from the sandbox
 * listing (system emails are caught too), adds a domain that the normal
 * verify_domain job verifies through real DNS queries to the sandbox DNS,
 * points an inbox at the catcher, and sends a campaign whose email the
 * listing shows DKIM-signed (verified), with SPF, DMARC and List-Unsubscribe.
 * The outbound guard lets exactly the catcher's address through. In
 * production the sandbox cannot be enabled, has no routes, and loopback stays
 * refused.
 */
import { jest } from '@jest/globals';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readEnv, type Env } from '../../src/config.ts';
import { makeDnsResolver } from '../../src/dns/resolver.ts';
import { makeOutboundGuard, outboundGuardFromEnv } from '../../src/net/outbound-guard.ts';
import { startPlatform, type Platform } from '../../src/platform.ts';
import { SandboxRefused, startSandbox } from '../../src/sandbox/sandbox.ts';
import { UserFacingError } from '../../src/user-facing-error.ts';
import type { CaughtMessage } from '../../src/sandbox/store.ts';
import { createPool, type ConnectionPool } from '../../src/db/pg.ts';
import { isolatedDatabase, platformEnv, registerUser, TEST_JWT_SECRET, IN_PROCESS_SETUP_TIMEOUT_MS } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';
import { uniqueDomain, uniqueEmail } from '../helpers/unique.ts';

jest.setTimeout(120_000);

interface Running {
  platform: Platform;
  env: Env;
  owner: ConnectionPool;
  gql<T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<{ data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> }>;
  ok<T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<T>;
  stop(): Promise<void>;
}

async function startRunning(label: string, overrides: Record<string, string>): Promise<Running> {
  const database = await isolatedDatabase(label);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `pm-${label}-`));
  const env = platformEnv(database.urls, dataDir, overrides);
  const platform = await startPlatform(env);
  const owner = createPool({ connectionString: database.urls.owner, bigIntMode: 'string', poolSize: 2 });
  const gql = async (query: string, variables: Record<string, unknown> = {}, token?: string) => {
    const response = await fetch(`${platform.api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: any; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  };
  return {
    platform,
    env,
    owner,
    gql,
    async ok(query, variables, token) {
      const result = await gql(query, variables, token);
      if (result.errors?.length) throw new Error(`GraphQL request failed: ${JSON.stringify(result.errors)}`);
      return result.data;
    },
    async stop() {
      await owner.dispose();
      await platform.stop();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

describe('development mode', () => {
  let r: Running;
  beforeAll(async () => {
    r = await startRunning('sandbox', { NODE_ENV: 'development', SANDBOX_SMTP_PORT: '0', SANDBOX_DNS_PORT: '0' });
  }, IN_PROCESS_SETUP_TIMEOUT_MS); // the whole platform in this process
  afterAll(() => r?.stop());

  const listing = async (to: string) =>
    (await (await fetch(`${r.platform.api.url}/sandbox/messages?to=${encodeURIComponent(to)}`)).json()) as { catcher: { host: string; port: number }; dns: string; messages: CaughtMessage[] };

  test('sign up, verify a domain through the sandbox DNS, send a campaign to the catcher: the listing shows it DKIM-signed and verified', async () => {
    const sandbox = r.platform.sandbox!;
    expect(sandbox.info.catcher.host).toBe('127.0.0.1');

    // Sign-up: the confirmation email goes to the outbox, and the sandbox lists it.
    const email = uniqueEmail('sandbox');
    await r.ok(`mutation($input: RegisterInput!) { register(input: $input) { message } }`, { input: { email, password: 'correct horse battery', tenantName: 'Sandboxed' } });
    const confirmation = await eventually(async () => (await listing(email)).messages[0], 20_000, 100);
    expect(confirmation).toMatchObject({ source: 'outbox', subject: 'Confirm your PenguinMails sign-up', file: expect.stringContaining(path.join(r.env.PM_DATA_DIR, 'outbox')) });
    const detail = (await (await fetch(`${r.platform.api.url}/sandbox/messages/${confirmation.id}`)).json()) as { text: string };
    const confirmToken = /confirm-registration\?token=([A-Za-z0-9_-]+)/.exec(detail.text)![1]!;
    const { confirmRegistration } = await r.ok(`mutation($t: String!) { confirmRegistration(input: { token: $t }) { jwtToken } }`, { t: confirmToken });
    const token: string = confirmRegistration.jwtToken;
    const api = <T = any>(query: string, variables: Record<string, unknown> = {}) => r.ok<T>(query, variables, token);

    // A domain: the sandbox DNS publishes what it must publish, and verify_domain finds it there.
    const domain = uniqueDomain('sandbox');
    const { createDomain } = await api(`mutation($d: DomainInput!) { createDomain(input: { domain: $d }) { domain { rowId } } }`, { d: { domain } });
    const domainId: string = createDomain.domain.rowId;
    const dkimRecord = await eventually(async () => {
      const { domain: d } = await api(`query($id: UUID!) { domain(rowId: $id) { dnsRecords } }`, { id: domainId });
      return d.dnsRecords.records.find((x: any) => x.record_type === 'DKIM' && x.value);
    }, 30_000, 200);
    const dns = makeDnsResolver({ servers: [sandbox.info.dns], timeoutMs: 2000, tries: 1 });
    expect((await dns.resolveTxt(`${dkimRecord.selector}._domainkey.${domain}`)).map((t) => t.join(''))).toEqual([dkimRecord.value]);
    expect((await dns.resolveTxt(domain)).map((t) => t.join(''))).toEqual(['v=spf1 include:_spf.penguinmails.io -all']);
    expect((await dns.resolveTxt('_spf.penguinmails.io')).map((t) => t.join(''))).toEqual(['v=spf1 ip4:127.0.0.1 -all']);
    await expect(dns.resolve4(`nothing-here.${domain}`)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(dns.resolveTxt('example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await api(`mutation($id: UUID!) { verifyDomain(input: { domainId: $id }) { result { verificationStatus } } }`, { id: domainId });
    const verified = await eventually(async () => {
      const { domain: d } = await api(`query($id: UUID!) { domain(rowId: $id) { verificationStatus dnsRecords } }`, { id: domainId });
      return d.verificationStatus === 'VERIFIED' && d;
    }, 30_000, 200);
    expect(verified.dnsRecords.records.map((x: any) => [x.record_type, x.verification_status])).toEqual([['SPF', 'verified'], ['DKIM', 'verified'], ['DMARC', 'verified'], ['MX', 'verified']]);

    // A sandbox inbox: the catcher's address passes the write-time check; its neighbours do not.
    const inbox = (host: string, local: string) => r.gql(`mutation($a: EmailAccountInput!) { createEmailAccount(input: { emailAccount: $a }) { emailAccount { rowId } } }`, {
      a: { domainId, email: `${local}@${domain}`, fromName: 'Sam at Sandbox', provider: 'SMTP', warmupEnabled: false, dailyLimit: 50, smtpSettings: { host, port: sandbox.info.catcher.port } },
    }, token);
    for (const refused of ['127.0.0.2', '10.0.0.1', '::1']) {
      expect((await inbox(refused, 'refused')).errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
    }
    const created = await inbox(sandbox.info.catcher.host, 'sam');
    const inboxId: string = created.data.createEmailAccount.emailAccount.rowId;

    // A lead, a template and a one-step campaign, started.
    const leadEmail = uniqueEmail('sandbox-lead');
    const { createLead } = await api(`mutation($l: LeadInput!) { createLead(input: { lead: $l }) { lead { rowId } } }`, { l: { email: leadEmail, firstName: 'Ada', company: 'Analytical Engines' } });
    const { createTemplate } = await api(`mutation($t: TemplateInput!) { createTemplate(input: { template: $t }) { template { rowId } } }`,
      { t: { name: 'Intro', subject: 'An idea for {{ lead.company }}', content: '<p>Hi {{ lead.first_name }}, shall we talk?</p>' } });
    const { createCampaign } = await api(`mutation($c: CampaignInput!) { createCampaign(input: { campaign: $c }) { campaign { rowId } } }`, {
      c: { name: 'First', timezone: 'UTC', sendDays: [1, 2, 3, 4, 5, 6, 7], sendWindowStart: '00:00', sendWindowEnd: '23:59', minGapSeconds: 0, maxGapSeconds: 0 },
    });
    const campaignId: string = createCampaign.campaign.rowId;
    await api(`mutation($c: UUID!, $t: UUID!, $i: UUID!, $l: UUID!) {
      createCampaignSequenceStep(input: { campaignSequenceStep: { campaignId: $c, stepOrder: 1, stepType: EMAIL, templateId: $t } }) { clientMutationId }
      createCampaignEmailAccount(input: { campaignEmailAccount: { campaignId: $c, emailAccountId: $i } }) { clientMutationId }
      createCampaignTarget(input: { campaignTarget: { campaignId: $c, leadId: $l } }) { clientMutationId } }`,
    { c: campaignId, t: createTemplate.template.rowId, i: inboxId, l: createLead.lead.rowId });
    const { startCampaign } = await api(`mutation($c: UUID!) { startCampaign(input: { campaignId: $c }) { result { status } } }`, { c: campaignId });
    expect(startCampaign.result.status).toBe('SENDING');

    // The catcher has it: DKIM-signed by the domain's key as published in the sandbox zone.
    const caught = await eventually(async () => (await listing(leadEmail)).messages[0], 30_000, 200);
    expect(caught).toMatchObject({
      source: 'smtp',
      from: `Sam at Sandbox <sam@${domain}>`,
      subject: 'An idea for Analytical Engines',
      envelope: { mailFrom: `sam@${domain}`, rcptTo: [leadEmail], remoteAddress: '127.0.0.1' },
      dkim: [{ domain, selector: dkimRecord.selector, result: 'pass', comment: null, signedHeaders: expect.arrayContaining(['from', 'subject', 'list-unsubscribe', 'list-unsubscribe-post']) }],
      spf: { result: 'pass', domain },
      dmarc: { result: 'pass', policy: 'quarantine' },
      listUnsubscribe: expect.stringMatching(new RegExp(`^<${r.platform.api.url}/u/[A-Za-z0-9_.-]+>$`)),
      listUnsubscribePost: 'List-Unsubscribe=One-Click',
    });
    const raw = await (await fetch(`${r.platform.api.url}/sandbox/messages/${caught.id}/raw`)).text();
    const firstHeader = raw.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)[0];
    expect(firstHeader).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; /);
    expect(firstHeader).toContain(` d=${domain}; `);
    const page = await (await fetch(`${r.platform.api.url}/sandbox`)).text();
    expect(page).toContain('An idea for Analytical Engines');
    await eventually(async () => {
      const { campaign } = await api(`query($c: UUID!) { campaign(rowId: $c) { messages { nodes { status } } } }`, { c: campaignId });
      return campaign.messages.nodes[0]?.status === 'SENT';
    }, 15_000, 200);
    expect((await fetch(`${r.platform.api.url}/sandbox/messages/${caught.id}/nope`)).status).toBe(404);
  });

  test('a taken sandbox port stops start-up with one line naming the setting; what had started is released', async () => {
    const { catcher, dns } = r.platform.sandbox!.info;
    const dnsPort = Number(dns.split(':')[1]);
    const freePort = await new Promise<number>((resolve) => {
      const socket = createSocket('udp4').bind(0, '127.0.0.1', () => {
        const { port } = socket.address();
        socket.close(() => resolve(port));
      });
    });
    // The DNS server starts first, on the free port; the catcher's port is taken.
    await expect(startSandbox({ ...r.env, SANDBOX_SMTP_PORT: catcher.port, SANDBOX_DNS_PORT: freePort }, r.env.DATABASE_URL!)).rejects.toThrow(
      new UserFacingError(`sandbox mail catcher: port ${catcher.port} on 127.0.0.1 is already in use: stop that process or set SANDBOX_SMTP_PORT to a free port (0 picks one).`),
    );
    await expect(startSandbox({ ...r.env, SANDBOX_DNS_PORT: dnsPort }, r.env.DATABASE_URL!)).rejects.toThrow(
      new UserFacingError(`sandbox DNS: port ${dnsPort} on 127.0.0.1 is already in use (UDP or TCP): stop that process or set SANDBOX_DNS_PORT to a free port (0 picks one).`),
    );
    // The failed start-up gave its DNS port back.
    const again = await startSandbox({ ...r.env, SANDBOX_SMTP_PORT: 0, SANDBOX_DNS_PORT: freePort }, r.env.DATABASE_URL!);
    expect(again.info.dns).toBe(`127.0.0.1:${freePort}`);
    await again.close();
  });

  test('system emails already in the outbox folder when the sandbox starts are listed, dated when they were written', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'pm-sandbox-outbox-'));
    try {
      mkdirSync(path.join(dataDir, 'outbox'));
      const file = path.join(dataDir, 'outbox', '1700000000000-earlier.eml');
      writeFileSync(file, 'From: PenguinMails <no-reply@penguinmails.localhost>\r\nTo: earlier@outbox.example\r\nSubject: From an earlier run\r\n\r\nHello\r\n');
      const written = new Date('2026-01-02T03:04:05.000Z');
      utimesSync(file, written, written);
      writeFileSync(path.join(dataDir, 'outbox', 'notes.txt'), 'not an email');
      const sandbox = await startSandbox({ ...r.env, PM_DATA_DIR: dataDir, SANDBOX_SMTP_PORT: 0, SANDBOX_DNS_PORT: 0 }, r.env.DATABASE_URL!);
      try {
        const listed = await eventually(async () => sandbox.store.list()[0], 10_000, 50);
        expect(listed).toMatchObject({ source: 'outbox', file, to: ['earlier@outbox.example'], subject: 'From an earlier run', receivedAt: written.toISOString() });
        expect(sandbox.store.list()).toHaveLength(1);
      } finally {
        await sandbox.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('the outbound guard the worker and API run with lets exactly the catcher address through', async () => {
    const guard = outboundGuardFromEnv(r.platform.sandbox!.allowCatcher(r.env));
    await expect(guard.check('127.0.0.1')).resolves.toMatchObject({ address: '127.0.0.1' });
    for (const refused of ['127.0.0.2', '127.1.0.1', '::1', '::ffff:127.0.0.2', '10.0.0.1', '169.254.169.254']) {
      await expect(guard.check(refused)).rejects.toMatchObject({ code: 'OUTBOUND_REFUSED' });
    }
    // The configuration itself is untouched: nothing else sees the allowance.
    expect(r.env.OUTBOUND_ALLOW_PRIVATE).toEqual([]);
  });
});

describe('production mode', () => {
  const PRODUCTION = { NODE_ENV: 'production', PM_SECRETS_KEY: 'ab'.repeat(32), AUTHENTICATOR_PASSWORD: 'not-used-in-this-test' };

  test('the sandbox cannot be enabled, and does not start even when asked directly', async () => {
    expect(() => readEnv({ ...PRODUCTION, DATABASE_URL: 'postgres://unused@127.0.0.1/unused', JWT_SECRET: TEST_JWT_SECRET, SANDBOX: 'true' }))
      .toThrow(/SANDBOX: the sandbox is for development only and cannot be enabled in production/);
    const env = readEnv({ ...PRODUCTION, DATABASE_URL: 'postgres://unused@127.0.0.1/unused', JWT_SECRET: TEST_JWT_SECRET });
    await expect(startSandbox({ ...env, SANDBOX: true }, 'postgres://unused@127.0.0.1/unused')).rejects.toBeInstanceOf(SandboxRefused);
  });

  describe('the platform', () => {
    let r: Running;
    beforeAll(async () => {
      r = await startRunning('sandbox_prod', PRODUCTION);
    }, IN_PROCESS_SETUP_TIMEOUT_MS);
    afterAll(() => r?.stop());

    test('has no sandbox routes; loopback inbox hosts stay refused', async () => {
      expect(r.platform.sandbox).toBeUndefined();
      for (const route of ['/sandbox', '/sandbox/messages', '/sandbox/messages/x/raw']) {
        expect((await fetch(`${r.platform.api.url}${route}`)).status).toBe(404);
      }
      const user = await registerUser(r, 'sandbox-prod');
      const domain = uniqueDomain('prod');
      const { createDomain } = await r.ok(`mutation($d: Hostname!) { createDomain(input: { domain: { domain: $d } }) { domain { rowId } } }`, { d: domain }, user.jwtToken);
      const inbox = await r.gql(`mutation($a: EmailAccountInput!) { createEmailAccount(input: { emailAccount: $a }) { emailAccount { rowId } } }`, {
        a: { domainId: createDomain.domain.rowId, email: `sam@${domain}`, provider: 'SMTP', smtpSettings: { host: '127.0.0.1', port: 2525 } },
      }, user.jwtToken);
      expect(inbox.errors?.[0]).toMatchObject({ message: expect.stringMatching(/^smtpSettings\.host: the server address is not allowed/), extensions: { code: 'INVALID_INPUT' } });
      await expect(makeOutboundGuard({ allowPrivate: r.env.OUTBOUND_ALLOW_PRIVATE }).check('127.0.0.1')).rejects.toMatchObject({ code: 'OUTBOUND_REFUSED' });
    });
  });
});
