/**
 * Realistic demo data: one row or more in every table of the domain, for the
 * `npm run db:seed` demo and for the tenant-isolation tests (which check that
 * this really covers every tenant-owned table). Runs as the owner.
 */
import { sql, type Queryable } from './pg.ts';

export interface PopulatedTenant {
  tenantId: string;
  ownerId: string;
  ids: Record<string, string>;
}

/** Platform-level rows (servers and IPs) shared by every tenant. */
export async function populatePlatform(db: Queryable, label: string): Promise<{ ipId: string }> {
  const [vps] = await db.query(sql`
    insert into app_public.vps_instances (hostwinds_instance_id, ip_address, region, status, monthly_cost, approximate_cost, hostwinds_billing_day)
    values (${`hw-${label}`}, '198.51.100.10', 'us-east', 'active', 40.00, 12.50, 5)
    on conflict (hostwinds_instance_id) do update set region = excluded.region
    returning id
  `);
  const octet = 10 + (Math.abs(hash(label)) % 200);
  const [ip] = await db.query(sql`
    insert into app_public.smtp_ip_addresses (vps_instance_id, ip_address, status, reputation_state, approximate_cost)
    values (${vps.id}, ${`198.51.100.${octet}`}::inet, 'warmed', 'good', 3.00)
    on conflict (ip_address) do update set status = excluded.status
    returning id
  `);
  return { ipId: ip.id };
}

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) | 0;
  return h;
}

const FIRST = ['Ada', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Edsger', 'Frances', 'Donald', 'Radia'];
const LAST = ['Lovelace', 'Hopper', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Dijkstra', 'Allen', 'Knuth', 'Perlman'];
const COMPANIES = ['Initech', 'Globex', 'Umbrella', 'Hooli', 'Vandelay', 'Acme', 'Stark', 'Wayne', 'Wonka', 'Tyrell'];

/**
 * Fills a tenant (which must already exist with its owner) with a domain,
 * inboxes, leads, lists, templates, a running three-step campaign with
 * messages and events, CRM accounts and deals, billing rows and an invitation.
 */
export async function populateTenant(
  db: Queryable,
  { tenantId, ownerId, domain, leadCount = 10, ipId }: { tenantId: string; ownerId: string; domain: string; leadCount?: number; ipId: string },
): Promise<PopulatedTenant> {
  const ids: Record<string, string> = {};
  const one = async (q: ReturnType<typeof sql>) => (await db.query(q))[0];

  const [company] = await db.query(sql`select id from app_public.companies where tenant_id = ${tenantId} order by created limit 1`);
  ids.company = company.id;

  ids.domain = (await one(sql`
    insert into app_public.domains (tenant_id, company_id, domain, is_primary, verification_status, verified_at, dns_records)
    values (${tenantId}, ${ids.company}, ${domain}, true, 'verified', now(), ${JSON.stringify({
      records: [
        { record_type: 'SPF', name: '@', value: 'v=spf1 include:_spf.penguinmails.io -all', ttl: 3600, verification_status: 'verified', verification_attempts: 1, verification_error: null, source: 'platform' },
        { record_type: 'DMARC', name: '_dmarc', value: `v=DMARC1; p=quarantine; rua=mailto:dmarc@${domain}`, policy: 'quarantine', ttl: 3600, verification_status: 'verified', verification_attempts: 1, verification_error: null, source: 'platform' },
        { record_type: 'MX', name: '@', value: 'mail.penguinmails.io.', priority: 10, ttl: 3600, verification_status: 'verified', verification_attempts: 1, verification_error: null, source: 'platform' },
      ],
    })}::jsonb)
    returning id
  `)).id;

  // A custom tracking domain waiting for its CNAME (the demo's plan may lack white label: then links keep the platform's host).
  ids.trackingDomain = (await one(sql`
    insert into app_public.tracking_domains (tenant_id, hostname, status)
    values (${tenantId}, ${'track.' + domain.toLowerCase()}, 'pending')
    returning id
  `)).id;

  ids.domainIpAssignment = (await one(sql`
    insert into app_public.domain_ip_assignments (tenant_id, domain_id, smtp_ip_address_id, status, warmup_state)
    values (${tenantId}, ${ids.domain}, ${ipId}, 'active', 'warmed') returning id
  `)).id;

  for (const [key, local] of [['inbox', 'sales'], ['inbox2', 'hello']] as const) {
    ids[key] = (await one(sql`
      insert into app_public.email_accounts (tenant_id, domain_id, email, from_name, provider, smtp_settings, imap_settings, daily_limit)
      values (${tenantId}, ${ids.domain}, ${`${local}@${domain}`}, ${'Sam from ' + domain}, 'smtp',
        ${JSON.stringify({ host: `smtp.${domain}`, port: 587, secure: false, username: `${local}@${domain}` })}::jsonb,
        ${JSON.stringify({ host: `imap.${domain}`, port: 993, secure: true, username: `${local}@${domain}` })}::jsonb, 40)
      returning id
    `)).id;
  }

  ids.customField = (await one(sql`
    insert into app_public.custom_field_definitions (tenant_id, key, label, field_type, options)
    values (${tenantId}, 'industry', 'Industry', 'select', array['saas', 'retail', 'finance'])
    returning id
  `)).id;

  ids.crmParent = (await one(sql`
    insert into app_public.crm_accounts (tenant_id, name, domain, industry, company_size, employee_count, annual_revenue, created_by)
    values (${tenantId}, ${COMPANIES[0] + ' Holdings'}, ${'holdings.' + domain}, 'Software', '1001-5000', 2400, 125000000, ${ownerId})
    returning id
  `)).id;
  ids.crmAccount = (await one(sql`
    insert into app_public.crm_accounts (tenant_id, name, domain, parent_account_id, industry, city, country, created_by)
    values (${tenantId}, ${COMPANIES[0]}, ${'initech.' + domain}, ${ids.crmParent}, 'Software', 'Austin', 'US', ${ownerId})
    returning id
  `)).id;

  const industries = ['saas', 'retail', 'finance'];
  const leads = await db.query(sql`
    insert into app_public.leads (tenant_id, email, first_name, last_name, name, company, title, timezone, status, source, custom_fields, crm_account_id, created_by)
    select ${tenantId},
           lower(f.first) || '.' || lower(l.last) || g.i || '@' || lower(c.name) || '.example',
           f.first, l.last, f.first || ' ' || l.last, c.name,
           (array['CTO', 'Head of Sales', 'Founder', 'VP Marketing'])[1 + g.i % 4],
           (array['Europe/Paris', 'America/New_York', 'Asia/Tokyo'])[1 + g.i % 3],
           case when g.i % 10 = 9 then 'unsubscribed' else 'active' end,
           'demo',
           jsonb_build_object('industry', (${industries}::text[])[1 + g.i % 3], 'employees', 10 * (g.i + 1)),
           case when g.i = 0 then ${ids.crmAccount}::uuid end,
           ${ownerId}
    from generate_series(0, ${leadCount - 1}) g(i)
    cross join lateral (select (${FIRST}::text[])[1 + g.i % 10] as first) f
    cross join lateral (select (${LAST}::text[])[1 + (g.i / 10) % 10] as last) l
    cross join lateral (select (${COMPANIES}::text[])[1 + g.i % 10] as name) c
    returning id
  `);
  ids.lead = leads[0].id;
  ids.lead2 = leads[1].id;

  ids.staticList = (await one(sql`
    insert into app_public.contact_lists (tenant_id, name, description)
    values (${tenantId}, 'Conference 2026', 'People we met at the conference') returning id
  `)).id;
  await db.query(sql`
    insert into app_public.contact_list_members (tenant_id, list_id, lead_id)
    select ${tenantId}, ${ids.staticList}, id from app_public.leads where tenant_id = ${tenantId} and status = 'active' limit 5
  `);
  ids.dynamicList = (await one(sql`
    insert into app_public.contact_lists (tenant_id, name, is_dynamic, filter_criteria)
    values (${tenantId}, 'SaaS decision makers', true,
      ${JSON.stringify({ all: [{ field: 'custom.industry', op: 'eq', value: 'saas' }, { field: 'status', op: 'eq', value: 'active' }] })}::jsonb)
    returning id
  `)).id;

  ids.suppression = (await one(sql`
    insert into app_public.suppressions (tenant_id, email, reason, note)
    values (${tenantId}, ${'legal@' + domain}, 'manual', 'Asked never to be contacted') returning id
  `)).id;

  ids.leadImport = (await one(sql`
    insert into app_public.lead_imports (tenant_id, status, file_name, byte_size, total_rows, imported_rows, skipped_rows, contact_list_id, created_by, finished_at)
    values (${tenantId}, 'completed', 'conference.csv', 2048, 12, 10, 2, ${ids.staticList}, ${ownerId}, now())
    returning id
  `)).id;

  ids.template = (await one(sql`
    insert into app_public.templates (tenant_id, name, subject, content, text_content, variables, category, created_by)
    values (${tenantId}, 'First touch', '{Quick question|A quick idea} for {{ lead.company }}',
      '<p>Hi {{ lead.first_name | default: "there" }},</p><p>We help teams like {{ lead.company }} book more meetings.</p>',
      'Hi {{ lead.first_name | default: "there" }}, we help teams like {{ lead.company }} book more meetings.',
      '[{"name": "first_name", "fallback": "there"}, {"name": "company", "fallback": "your team"}]', 'outreach', ${ownerId})
    returning id
  `)).id;
  ids.template2 = (await one(sql`
    insert into app_public.templates (tenant_id, name, subject, content, text_content, category, created_by)
    values (${tenantId}, 'Follow-up', 'Re: {{ lead.company }}', '<p>Just bumping this up, {{ lead.first_name }}.</p>',
      'Just bumping this up, {{ lead.first_name }}.', 'outreach', ${ownerId})
    returning id
  `)).id;
  ids.folder = (await one(sql`insert into app_public.folders (tenant_id, name) values (${tenantId}, 'Outbound') returning id`)).id;
  ids.templateFolder = (await one(sql`
    insert into app_public.template_folders (tenant_id, template_id, folder_id) values (${tenantId}, ${ids.template}, ${ids.folder}) returning id
  `)).id;
  const [tag] = await db.query(sql`select id from app_public.tags where tenant_id = ${tenantId} order by id limit 1`);
  ids.tag = tag.id;
  ids.templateTag = (await one(sql`
    insert into app_public.template_tags (tenant_id, template_id, tag_id) values (${tenantId}, ${ids.template}, ${ids.tag}) returning id
  `)).id;

  ids.campaign = (await one(sql`
    insert into app_public.campaigns (tenant_id, company_id, name, description, status, started_at, timezone, created_by)
    values (${tenantId}, ${ids.company}, 'Q4 outbound', 'Three-touch sequence to SaaS leads', 'sending', now() - interval '3 days', 'Europe/Paris', ${ownerId})
    returning id
  `)).id;
  await db.query(sql`
    insert into app_public.campaign_email_accounts (tenant_id, campaign_id, email_account_id)
    values (${tenantId}, ${ids.campaign}, ${ids.inbox}), (${tenantId}, ${ids.campaign}, ${ids.inbox2})
  `);
  ids.step1 = (await one(sql`
    insert into app_public.campaign_sequence_steps (tenant_id, campaign_id, step_order, step_type, template_id)
    values (${tenantId}, ${ids.campaign}, 1, 'email', ${ids.template}) returning id
  `)).id;
  ids.step2 = (await one(sql`
    insert into app_public.campaign_sequence_steps (tenant_id, campaign_id, step_order, step_type, wait_duration_hours)
    values (${tenantId}, ${ids.campaign}, 2, 'wait', 48) returning id
  `)).id;
  ids.step3 = (await one(sql`
    insert into app_public.campaign_sequence_steps (tenant_id, campaign_id, step_order, step_type, condition_type, condition_value)
    values (${tenantId}, ${ids.campaign}, 3, 'condition', 'not_replied', 'stop') returning id
  `)).id;
  ids.step4 = (await one(sql`
    insert into app_public.campaign_sequence_steps (tenant_id, campaign_id, step_order, step_type, template_id, email_account_id)
    values (${tenantId}, ${ids.campaign}, 4, 'email', ${ids.template2}, ${ids.inbox}) returning id
  `)).id;
  ids.variantA = (await one(sql`
    insert into app_public.campaign_step_variants (tenant_id, step_id, label, subject, weight)
    values (${tenantId}, ${ids.step1}, 'A', 'Quick question for {{ lead.company }}', 1) returning id
  `)).id;
  await db.query(sql`
    insert into app_public.campaign_step_variants (tenant_id, step_id, label, subject, body_html, weight)
    values (${tenantId}, ${ids.step1}, 'B', '{{ lead.first_name }}, an idea for {{ lead.company }}',
            '<p>Hi {{ lead.first_name }}, one idea for {{ lead.company }} in two lines.</p>', 1)
  `);
  // A member picked A as the winner of step 1's A/B test.
  ids.abDecision = (await one(sql`
    insert into app_public.campaign_step_ab_decisions (tenant_id, step_id, winner_variant_id, metric, decided_by, decided_by_user_id, reason, figures)
    values (${tenantId}, ${ids.step1}, ${ids.variantA}, 'reply', 'manual', ${ownerId}, 'manual',
            jsonb_build_array(jsonb_build_object('variant_id', ${ids.variantA}::uuid, 'label', 'A', 'sent', 1, 'opened', 1, 'clicked', 0, 'replied', 1, 'rate', 1)))
    returning id
  `)).id;
  ids.target = (await one(sql`
    insert into app_public.campaign_targets (tenant_id, campaign_id, contact_list_id)
    values (${tenantId}, ${ids.campaign}, ${ids.staticList}) returning id
  `)).id;
  await db.query(sql`
    insert into app_public.campaign_targets (tenant_id, campaign_id, lead_id) values (${tenantId}, ${ids.campaign}, ${ids.lead2})
  `);
  ids.enrollment = (await one(sql`
    insert into app_public.campaign_enrollments (tenant_id, campaign_id, lead_id, status, current_step_order, email_account_id, steps_completed, next_run_at)
    values (${tenantId}, ${ids.campaign}, ${ids.lead}, 'active', 2, ${ids.inbox}, 1, now() + interval '2 days') returning id
  `)).id;

  ids.message = (await one(sql`
    insert into app_public.messages (tenant_id, id, direction, status, email_account_id, campaign_id, enrollment_id, step_id, variant_id, lead_id,
      from_email, to_email, subject, rfc_message_id, sent_at, delivered_at, opened_at, replied_at, send_attempts)
    select ${tenantId}, app_public.uuid_v7(now() - interval '2 days'), 'outbound', 'replied', ${ids.inbox}, ${ids.campaign}, ${ids.enrollment}, ${ids.step1},
      ${ids.variantA}, l.id, ${'sales@' + domain}, l.email, 'Quick question for ' || l.company,
      gen_random_uuid() || '@' || ${domain}, now() - interval '2 days', now() - interval '2 days', now() - interval '1 day', now() - interval '20 hours', 1
    from app_public.leads l where l.tenant_id = ${tenantId} and l.id = ${ids.lead}
    returning id
  `)).id;
  await db.query(sql`update app_public.campaign_enrollments set thread_message_id = ${ids.message} where tenant_id = ${tenantId} and id = ${ids.enrollment}`);
  // A second lead whose first email is booked for the inbox's next slot (the engine's current_message_id).
  ids.enrollment2 = (await one(sql`
    insert into app_public.campaign_enrollments (tenant_id, campaign_id, lead_id, status, current_step_order, email_account_id, next_run_at)
    values (${tenantId}, ${ids.campaign}, ${ids.lead2}, 'active', 1, ${ids.inbox2}, now() + interval '10 minutes') returning id
  `)).id;
  ids.bookedMessage = (await one(sql`
    insert into app_public.messages (tenant_id, direction, status, email_account_id, campaign_id, enrollment_id, step_id, lead_id, from_email, to_email, scheduled_for)
    select ${tenantId}, 'outbound', 'queued', ${ids.inbox2}, ${ids.campaign}, ${ids.enrollment2}, ${ids.step1}, l.id, ${'hello@' + domain}, l.email, now() + interval '10 minutes'
    from app_public.leads l where l.tenant_id = ${tenantId} and l.id = ${ids.lead2}
    returning id
  `)).id;
  await db.query(sql`update app_public.campaign_enrollments set current_message_id = ${ids.bookedMessage} where tenant_id = ${tenantId} and id = ${ids.enrollment2}`);
  ids.reply = (await one(sql`
    insert into app_public.messages (tenant_id, direction, message_type, status, email_account_id, campaign_id, lead_id, parent_message_id,
      from_email, to_email, subject, rfc_message_id, in_reply_to, body_text)
    select ${tenantId}, 'inbound', 'email', 'received', m.email_account_id, m.campaign_id, m.lead_id, m.id,
      m.to_email, m.from_email, 'Re: ' || m.subject, gen_random_uuid() || '@mail.example', m.rfc_message_id, 'Sounds interesting, can we talk Tuesday?'
    from app_public.messages m where m.tenant_id = ${tenantId} and m.id = ${ids.message}
    returning id
  `)).id;
  await db.query(sql`
    insert into app_public.email_events (tenant_id, message_id, campaign_id, lead_id, event_type, ip_address, user_agent, link_url)
    select ${tenantId}, m.id, m.campaign_id, m.lead_id, e.event_type, e.ip::inet, e.ua, e.url
    from app_public.messages m,
      (values ('sent', null, null, null), ('delivered', null, null, null), ('open', '203.0.113.7', 'Mozilla/5.0', null),
              ('click', '203.0.113.7', 'Mozilla/5.0', 'https://example.com/pricing'), ('reply', null, null, null)) as e (event_type, ip, ua, url)
    where m.tenant_id = ${tenantId} and m.id = ${ids.message}
  `);

  // A webhook (disabled, so the demo never posts anywhere) with one delivered event in its log.
  ids.webhookSubscription = (await one(sql`
    insert into app_public.webhook_subscriptions (tenant_id, url, description, event_types, campaign_id, enabled, disabled_at, created_by)
    values (${tenantId}, ${'https://hooks.' + domain + '/penguinmails'}, 'CRM sync', '{email.replied,lead.status_changed}', ${ids.campaign}, false, now(), ${ownerId})
    returning id
  `)).id;
  await db.query(sql`
    insert into app_private.webhook_secrets (tenant_id, subscription_id, secret_encrypted)
    values (${tenantId}, ${ids.webhookSubscription}, gen_random_bytes(48))
  `);
  ids.webhookEvent = (await one(sql`
    insert into app_public.webhook_events (tenant_id, event_type, campaign_id, data)
    values (${tenantId}, 'email.replied', ${ids.campaign}, jsonb_build_object('message_id', ${ids.message}::uuid, 'lead_id', ${ids.lead}::uuid))
    returning id
  `)).id;
  ids.webhookDelivery = (await one(sql`
    insert into app_public.webhook_deliveries (tenant_id, webhook_subscription_id, event_id, event_created, status, attempts, last_attempt_at,
      response_code, response_body, duration_ms, completed_at)
    select ${tenantId}, ${ids.webhookSubscription}, e.id, e.created, 'succeeded', 1, now(), 200, 'ok', 42, now()
    from app_public.webhook_events e where e.tenant_id = ${tenantId} and e.id = ${ids.webhookEvent}
    returning id
  `)).id;

  ids.deal = (await one(sql`
    insert into app_public.deals (tenant_id, title, value, probability, stage, primary_lead_id, crm_account_id, owner_user_id, source_campaign_id,
      expected_close_date, deal_source, created_by)
    values (${tenantId}, 'Initech pilot', 12000, 40, 'qualified', ${ids.lead}, ${ids.crmAccount}, ${ownerId}, ${ids.campaign},
      current_date + 30, 'outbound reply', ${ownerId})
    returning id
  `)).id;
  ids.dealContact = (await one(sql`
    insert into app_public.deal_contacts (tenant_id, deal_id, lead_id, role, created_by)
    values (${tenantId}, ${ids.deal}, ${ids.lead}, 'decision_maker', ${ownerId}) returning id
  `)).id;

  // CRM timeline (functions/075-crm-conversion.sql): the email events above
  // already wrote the lead's email activities; a note and an open task on the deal.
  ids.activity = (await one(sql`
    insert into app_public.activities (tenant_id, kind, lead_id, deal_id, user_id, body)
    values (${tenantId}, 'note', ${ids.lead}, ${ids.deal}, ${ownerId}, 'Asked for a pilot with two teams; wants pricing by Friday.')
    returning id
  `)).id;
  ids.task = (await one(sql`
    insert into app_public.activities (tenant_id, kind, deal_id, user_id, title, due_at)
    values (${tenantId}, 'task', ${ids.deal}, ${ownerId}, 'Send the pilot proposal', now() + interval '2 days')
    returning id
  `)).id;

  const [subscription] = await db.query(sql`select id from app_public.subscriptions where tenant_id = ${tenantId}`);
  ids.subscription = subscription.id;
  ids.addon = (await one(sql`
    insert into app_public.subscription_addons (tenant_id, subscription_id, addon_type, quantity, price_monthly)
    values (${tenantId}, ${ids.subscription}, 'max_emails_per_month', 10000, 15.00) returning id
  `)).id;
  ids.payment = (await one(sql`
    insert into app_public.payments (tenant_id, subscription_id, initiated_by_user_id, amount, currency, status, processed_at, description,
      stripe_invoice_id, billing_period_start, billing_period_end)
    values (${tenantId}, ${ids.subscription}, ${ownerId}, 99.00, 'USD', 'succeeded', now(), 'Pro plan, monthly',
      ${'in_demo' + tenantId.replaceAll('-', '').slice(0, 12)}, date_trunc('month', now()), date_trunc('month', now()) + interval '1 month')
    returning id
  `)).id;
  ids.invitation = (await one(sql`
    insert into app_public.invitations (tenant_id, email, roles, invited_by) values (${tenantId}, ${'newhire@' + domain}, '{member}', ${ownerId})
    returning id
  `)).id;
  // A key without a usable secret (the demo shows the list; createApiKey issues real ones).
  ids.apiKey = (await one(sql`
    insert into app_public.api_keys (tenant_id, name, prefix, scopes, created_by)
    values (${tenantId}, 'CRM sync', ${'pm_' + tenantId.replaceAll('-', '').slice(0, 8)}, '{leads:read,leads:write}', ${ownerId})
    returning id
  `)).id;
  // A whole-organisation export from a month ago, past its 7 days (its file is gone; requestTenantExport makes a new one).
  ids.tenantExport = (await one(sql`
    insert into app_public.tenant_exports (tenant_id, status, requested_by, tables_total, tables_done, rows_written, byte_size, sha256,
      started_at, finished_at, expires_at, downloads, created)
    values (${tenantId}, 'expired', ${ownerId}, 40, 40, 1250, 48213, encode(sha256('demo export'), 'hex'),
      now() - interval '30 days', now() - interval '30 days', now() - interval '23 days', 1, now() - interval '30 days')
    returning id
  `)).id;
  // A CSV export of the campaign's results, expired too (requestCsvExport makes a new one).
  ids.csvExport = (await one(sql`
    insert into app_public.tenant_exports (tenant_id, status, kind, format, campaign_id, requested_by, tables_total, tables_done, rows_total,
      rows_written, byte_size, sha256, started_at, finished_at, expires_at, downloads, created)
    values (${tenantId}, 'expired', 'campaign_results', 'csv', ${ids.campaign}, ${ownerId}, 1, 1, 3, 3, 912, encode(sha256('demo csv export'), 'hex'),
      now() - interval '20 days', now() - interval '20 days', now() - interval '13 days', 1, now() - interval '20 days')
    returning id
  `)).id;
  const [usage] = await db.query(sql`select id from app_public.usage_periods where tenant_id = ${tenantId}`);
  ids.usagePeriod = usage.id;
  return { tenantId, ownerId, ids };
}
