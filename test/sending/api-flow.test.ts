/**
 * The whole flow from the API alone, as a tenant would do it: register,
 * create a domain, an inbox (with its password), leads, templates and a
 * three-step campaign, start it, and watch the messages arrive at a real SMTP
 * server, opens and clicks recorded through the tracking endpoints, and a
 * reply stop that lead's sequence while the other lead gets the follow-up.
 * Only what other subsystems do is done as the owner here: marking the domain
 * verified with a DKIM key (DNS verification), recording the reply (the IMAP
 * poller) and moving the engine clock a day ahead.
 */
import { secretsKeyOf } from '../../src/config.ts';
import { trackingRoutes } from '../../src/tracking/routes.ts';
import { makeTrackingTokens, trackingKeyFrom } from '../../src/tracking/tokens.ts';
import { registerUser, testEnv } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';
import { uniqueDomain } from '../helpers/unique.ts';
import { advanceClock, campaignOf, header, nextMonday, setClock, startWorld, verifyDkim, type World, campaignCompletes } from './support/world.ts';
import { generateKeyPairSync } from 'node:crypto';
import { sql } from '../../src/db/pg.ts';

let w: World;
beforeAll(async () => {
  const tokens = makeTrackingTokens(trackingKeyFrom(secretsKeyOf(testEnv())));
  w = await startWorld({
    routes: (api) => trackingRoutes({ pool: api.ownerPool, tokens }),
    smtp: {
      allowInsecureAuth: true,
      onAuth: (auth, _session, callback) =>
        auth.username === 'sales' && auth.password === 'flow-smtp-password' ? callback(null, { user: 'sales' }) : callback(new Error('Invalid login')),
    },
  });
  await setClock(w, await nextMonday(w, 9));
});
afterAll(() => w.close());

test('a tenant builds and starts a three-step campaign through the API; mail arrives, engagement is tracked, a reply stops the sequence', async () => {
  const user = await registerUser(w.t, 'flow');
  const api = <T = any>(query: string, variables: Record<string, unknown> = {}) => w.t.ok<T>(query, variables, user.jwtToken);
  const domainName = uniqueDomain('flow');

  const { createDomain } = await api(`mutation($d: DomainInput!) { createDomain(input: { domain: $d }) { domain { rowId domain verificationStatus } } }`,
    { d: { domain: domainName } });
  const domainId: string = createDomain.domain.rowId;
  // DNS verification and the DKIM key (the deliverability subsystem's job).
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
  // In one transaction that locks the domain before its key, the order the
  // worker's own key installation uses (install_dkim_key): the other order
  // deadlocked with it.
  await w.t.owner.tx(async (tx) => {
    await tx.query(sql`update app_public.domains set verification_status = 'verified', verified_at = now() where id = ${domainId}`);
    await tx.query(sql`
      insert into app_private.domain_dkim_keys (tenant_id, domain_id, selector, private_key_encrypted, public_key)
      values (${user.tenantId}, ${domainId}, 'pm', ${w.box.encrypt(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)}, ${spki})
      on conflict (tenant_id, domain_id, selector) do update set private_key_encrypted = excluded.private_key_encrypted, public_key = excluded.public_key
    `);
  });

  const { createEmailAccount } = await api(`mutation($a: EmailAccountInput!) { createEmailAccount(input: { emailAccount: $a }) { emailAccount { rowId email } } }`, {
    a: {
      domainId, email: `sales@${domainName}`, fromName: 'Sam at Flow', provider: 'SMTP', warmupEnabled: false, dailyLimit: 50,
      smtpSettings: { host: '127.0.0.1', port: w.smtp.port, secure: false, username: 'sales' },
    },
  });
  const inboxId: string = createEmailAccount.emailAccount.rowId;
  await api(`mutation($i: SetEmailAccountCredentialsInput!) { setEmailAccountCredentials(input: $i) { smtpAuthConfigured } }`,
    { i: { emailAccountId: inboxId, smtpPassword: 'flow-smtp-password' } });

  const leads: Array<{ rowId: string; email: string }> = [];
  for (const [first, company] of [['Grace', 'Hopper Labs'], ['Linus', 'Kernel Co']] as const) {
    const { createLead } = await api(`mutation($l: LeadInput!) { createLead(input: { lead: $l }) { lead { rowId email } } }`,
      { l: { email: `${first.toLowerCase()}-${Date.now()}@recipient.example`, firstName: first, company } });
    leads.push(createLead.lead);
  }
  const template = async (name: string, subject: string, content: string) =>
    (await api(`mutation($t: TemplateInput!) { createTemplate(input: { template: $t }) { template { rowId } } }`,
      { t: { name, subject, content } })).createTemplate.template.rowId as string;
  const intro = await template('Intro', 'An idea for {{ lead.company }}', '<p>Hi {{ lead.first_name }}, see <a href="https://example.com/demo">the demo</a>.</p>');
  const followUp = await template('Follow-up', 'Re: An idea for {{ lead.company }}', '<p>Any thoughts, {{ lead.first_name }}?</p>');

  const { createCampaign } = await api(`mutation($c: CampaignInput!) { createCampaign(input: { campaign: $c }) { campaign { rowId status } } }`, {
    c: { name: 'Flow', timezone: 'UTC', sendDays: [1, 2, 3, 4, 5, 6, 7], sendWindowStart: '08:00', sendWindowEnd: '18:00', minGapSeconds: 0, maxGapSeconds: 0 },
  });
  const campaignId: string = createCampaign.campaign.rowId;
  const step = (s: Record<string, unknown>) => api(`mutation($s: CampaignSequenceStepInput!) { createCampaignSequenceStep(input: { campaignSequenceStep: $s }) { campaignSequenceStep { rowId } } }`, { s: { campaignId, ...s } });
  await step({ stepOrder: 1, stepType: 'EMAIL', templateId: intro });
  await step({ stepOrder: 2, stepType: 'WAIT', waitDurationHours: 24 });
  await step({ stepOrder: 3, stepType: 'EMAIL', templateId: followUp });
  await api(`mutation($a: CampaignEmailAccountInput!) { createCampaignEmailAccount(input: { campaignEmailAccount: $a }) { clientMutationId } }`,
    { a: { campaignId, emailAccountId: inboxId } });
  for (const lead of leads) {
    await api(`mutation($t: CampaignTargetInput!) { createCampaignTarget(input: { campaignTarget: $t }) { clientMutationId } }`, { t: { campaignId, leadId: lead.rowId } });
  }

  const { startCampaign } = await api(`mutation($id: UUID!) { startCampaign(input: { campaignId: $id }) { result { status startedAt } } }`, { id: campaignId });
  expect(startCampaign.result.status).toBe('SENDING');

  const [grace, linus] = leads as [{ rowId: string; email: string }, { rowId: string; email: string }];
  const graceMail = await w.smtp.waitFor((m) => m.to.includes(grace.email));
  await w.smtp.waitFor((m) => m.to.includes(linus.email));
  expect(graceMail.parsed.subject).toBe('An idea for Hopper Labs');
  const dkim = await verifyDkim(graceMail, { domainId, domain: domainName, selector: 'pm', dkimRecord: `v=DKIM1; k=rsa; p=${spki}`, inboxes: [] });
  expect(dkim.result).toBe('pass');

  // The recipient opens the mail and clicks the link: the tracking endpoints record both.
  const pixel = /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(graceMail.parsed.html ?? '')![1]!;
  expect((await fetch(pixel)).headers.get('content-type')).toBe('image/gif');
  const click = /<a href="([^"]+\/t\/c\/[^"]+)"/.exec(graceMail.parsed.html ?? '')![1]!.replace(/&amp;/g, '&');
  const redirect = await fetch(click, { redirect: 'manual' });
  expect([redirect.status, redirect.headers.get('location')]).toEqual([302, 'https://example.com/demo']);

  const watch = `query($id: UUID!) { campaign(rowId: $id) { status messages(orderBy: CREATED_ASC) { nodes { toEmail status subject emailEvents { nodes { eventType } } } } } }`;
  const watched = await eventually(async () => {
    const data = await api(watch, { id: campaignId });
    const mine = data.campaign.messages.nodes.find((m: any) => m.toEmail === grace.email);
    return mine?.status === 'CLICKED' && mine.emailEvents.nodes.length === 3 && data;
  });
  const graceRow = watched.campaign.messages.nodes.find((m: any) => m.toEmail === grace.email);
  // The pixel answers first and records after, so the open may land after the click.
  expect(graceRow.emailEvents.nodes.map((e: any) => e.eventType).sort()).toEqual(['CLICK', 'OPEN', 'SENT']);

  // Grace replies (the IMAP poller records it): her sequence stops; Linus gets the follow-up a day later.
  const [graceMessage] = await w.t.owner.query(sql`select id from app_public.messages where campaign_id = ${campaignId} and to_email = ${grace.email}`);
  await w.t.owner.query(sql`select app_private.record_email_event(${user.tenantId}, ${graceMessage.id}, 'reply')`);
  await advanceClock(w, '24 hours');
  const followed = await w.smtp.waitFor((m) => m.to.includes(linus.email) && m.parsed.subject === 'Re: An idea for Kernel Co');
  expect(header(followed, 'in-reply-to')).toMatch(new RegExp(`^<[0-9a-f-]+@${domainName.replace(/\./g, '\\.')}>$`));
  await campaignCompletes(w, campaignId, 10_000);
  expect(w.smtp.messages.filter((m) => m.to.includes(grace.email))).toHaveLength(1);

  const final = await api(`query($id: UUID!) { campaign(rowId: $id) { status campaignEnrollments { nodes { leadId status stopReason } } } }`, { id: campaignId });
  expect(final.campaign.status).toBe('COMPLETED');
  const byLead = Object.fromEntries(final.campaign.campaignEnrollments.nodes.map((e: any) => [e.leadId, e]));
  expect(byLead[grace.rowId]).toMatchObject({ status: 'REPLIED', stopReason: 'replied' });
  expect(byLead[linus.rowId]).toMatchObject({ status: 'COMPLETED', stopReason: null });
});
