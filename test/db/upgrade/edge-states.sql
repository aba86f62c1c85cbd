-- Data an older schema accepted, loaded by test/db/upgrade.test.ts into a
-- database built from the committed migrations up to an earlier one, before
-- it is migrated to the current schema. Written against migration 000001's
-- tables (later migrations only add columns with defaults to them), with the
-- edge states a live database holds: soft-deleted users, tenants and
-- memberships, paused and cancelled campaigns, failed and running imports,
-- unsubscribed and bounced leads, inbound mail, won and lost deals.
-- Fixed ids (…-4000-8000-00000000XXXX) so the test can find each row again.

insert into app_public.users (id, name, email, email_verified, deleted) values
  ('00000000-0000-4000-8000-000000000001', 'Ada Owner', 'ada@upgrade.test', now(), null),
  ('00000000-0000-4000-8000-000000000002', 'Ben Member', 'ben@upgrade.test', null, null),
  ('00000000-0000-4000-8000-000000000003', 'Cy Gone', 'cy@upgrade.test', now(), now() - interval '3 days');

insert into app_public.tenants (id, name, deleted) values
  ('00000000-0000-4000-8000-000000000101', 'Upgrade Org', null),
  ('00000000-0000-4000-8000-000000000102', 'Closed Org', now() - interval '10 days');

insert into app_public.tenant_users (tenant_id, user_id, roles, email, deleted) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000001', '{owner}', 'ada@upgrade.test', null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000002', '{member,viewer}', 'ben@upgrade.test', null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000003', '{member}', 'cy@upgrade.test', now() - interval '3 days'),
  ('00000000-0000-4000-8000-000000000102', '00000000-0000-4000-8000-000000000001', '{owner}', 'ada@upgrade.test', null);

insert into app_public.subscriptions (tenant_id, plan_id, status, past_due_since)
select '00000000-0000-4000-8000-000000000101', p.id, 'past_due', now() - interval '2 days'
from app_public.plans p order by p.id limit 1;

-- Add-ons: one raising the contacts limit, and one of the storage quota
-- (max_storage_gb) that never had an effect, deleted with its type by
-- migrations/current/3-plan-features.sql.
insert into app_public.subscription_addons (tenant_id, id, subscription_id, addon_type, quantity)
select s.tenant_id, x.id::uuid, s.id, x.addon_type, x.quantity
from app_public.subscriptions s,
  (values ('00000000-0000-4000-8000-000000001401', 'max_contacts', 1000), ('00000000-0000-4000-8000-000000001402', 'max_storage_gb', 50)) x (id, addon_type, quantity)
where s.tenant_id = '00000000-0000-4000-8000-000000000101';

insert into app_public.companies (tenant_id, id, name, status) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000201', 'Upgrade Co', 'active'),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000202', 'Old Co', 'archived');

insert into app_public.domains (tenant_id, id, company_id, domain, verification_status, verified, dns_records) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000301', '00000000-0000-4000-8000-000000000201',
   'mail.upgrade.test', 'verified', now() - interval '1 day',
   '{"records": [{"record_type": "SPF", "name": "@", "value": "v=spf1 -all", "ttl": 3600, "verification_status": "verified", "verification_attempts": 1}]}'),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000302', null,
   'pending.upgrade.test', 'pending', null, '{"records": []}');

insert into app_public.email_accounts (tenant_id, id, domain_id, email, status, daily_limit, daily_count, last_error) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000401', '00000000-0000-4000-8000-000000000301',
   'ada@mail.upgrade.test', 'active', 40, 12, null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000402', '00000000-0000-4000-8000-000000000301',
   'sales@mail.upgrade.test', 'error', 50, 0, 'SMTP authentication failed');
-- A Google inbox with a cap above Google's 2,000 a day (allowed until email_accounts_provider_daily_cap).
insert into app_public.email_accounts (tenant_id, id, domain_id, email, provider, status, daily_limit, daily_count) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000403', '00000000-0000-4000-8000-000000000301',
   'google@mail.upgrade.test', 'google', 'active', 5000, 0);

insert into app_public.leads (tenant_id, id, email, first_name, status, custom_fields, unsubscribed_at, bounced_at, created_by) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000501', 'lead1@example.org', 'Lee', 'active', '{"score": 7}', null, null, '00000000-0000-4000-8000-000000000001'),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000502', 'lead2@example.org', 'Una', 'unsubscribed', '{}', now(), null, null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000503', 'lead3@example.org', 'Bo', 'bounced', '{}', null, now(), '00000000-0000-4000-8000-000000000003'),
  ('00000000-0000-4000-8000-000000000102', '00000000-0000-4000-8000-000000000504', 'lead4@example.org', 'Other', 'active', '{}', null, null, null);

insert into app_public.contact_lists (tenant_id, id, name, is_dynamic, filter_criteria) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000601', 'Static list', false, null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000602', 'Dynamic list', true, '{"status": "active"}');
insert into app_public.contact_list_members (tenant_id, list_id, lead_id) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000601', '00000000-0000-4000-8000-000000000501'),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000601', '00000000-0000-4000-8000-000000000502');

insert into app_public.lead_imports (tenant_id, id, status, file_name, contact_list_id, total_rows, imported_rows, started_at, finished_at) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000701', 'completed', 'ok.csv', '00000000-0000-4000-8000-000000000601', 2, 2, now(), now()),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000702', 'processing', 'running.csv', null, 0, 0, now(), null);

insert into app_public.templates (tenant_id, id, name, subject, content, is_archived) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000801', 'Intro', 'Hello {{first_name}}', '<p>Hi {{first_name}}</p>', false),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000802', 'Old', 'Old', '<p>Old</p>', true);

insert into app_public.campaigns (tenant_id, id, company_id, name, status, started, paused_at, cancelled_at) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000901', '00000000-0000-4000-8000-000000000201', 'Draft', 'draft', null, null, null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000902', null, 'Sending', 'sending', now() - interval '1 day', null, null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000903', null, 'Paused', 'paused', now() - interval '2 days', now() - interval '1 day', null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000904', null, 'Cancelled', 'cancelled', now() - interval '3 days', null, now() - interval '2 days');
insert into app_public.campaign_email_accounts (tenant_id, campaign_id, email_account_id) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000902', '00000000-0000-4000-8000-000000000401'),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000903', '00000000-0000-4000-8000-000000000401');
insert into app_public.campaign_sequence_steps (tenant_id, id, campaign_id, step_order, step_type, template_id, wait_duration_hours, condition_type, condition_value) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000001001', '00000000-0000-4000-8000-000000000902', 1, 'email', '00000000-0000-4000-8000-000000000801', null, null, null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000001002', '00000000-0000-4000-8000-000000000902', 2, 'wait', null, 48, null, null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000001003', '00000000-0000-4000-8000-000000000902', 3, 'condition', null, null, 'not_replied', 'stop'),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000001004', '00000000-0000-4000-8000-000000000903', 1, 'email', '00000000-0000-4000-8000-000000000801', null, null, null);
insert into app_public.campaign_enrollments (tenant_id, id, campaign_id, lead_id, status, current_step_order, next_run_at, email_account_id, steps_completed, completed_at, stop_reason) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000001101', '00000000-0000-4000-8000-000000000902', '00000000-0000-4000-8000-000000000501', 'active', 2, now() + interval '1 day', '00000000-0000-4000-8000-000000000401', 1, null, null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000001102', '00000000-0000-4000-8000-000000000902', '00000000-0000-4000-8000-000000000502', 'unsubscribed', 1, null, null, 0, now(), 'unsubscribed'),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000001103', '00000000-0000-4000-8000-000000000903', '00000000-0000-4000-8000-000000000501', 'paused', 1, null, null, 0, null, null);

insert into app_public.messages (tenant_id, direction, status, email_account_id, campaign_id, enrollment_id, step_id, lead_id,
                                 from_email, to_email, subject, rfc_message_id, send_attempts, sent_at, error_message) values
  ('00000000-0000-4000-8000-000000000101', 'outbound', 'sent', '00000000-0000-4000-8000-000000000401', '00000000-0000-4000-8000-000000000902',
   '00000000-0000-4000-8000-000000001101', '00000000-0000-4000-8000-000000001001', '00000000-0000-4000-8000-000000000501',
   'ada@mail.upgrade.test', 'lead1@example.org', 'Hello Lee', 'upgrade-sent@mail.upgrade.test', 1, now() - interval '1 day', null),
  ('00000000-0000-4000-8000-000000000101', 'outbound', 'failed', '00000000-0000-4000-8000-000000000401', '00000000-0000-4000-8000-000000000902',
   '00000000-0000-4000-8000-000000001102', '00000000-0000-4000-8000-000000001001', '00000000-0000-4000-8000-000000000502',
   'ada@mail.upgrade.test', 'lead2@example.org', 'Hello Una', 'upgrade-failed@mail.upgrade.test', 3, null, '550 mailbox unavailable'),
  ('00000000-0000-4000-8000-000000000101', 'outbound', 'queued', '00000000-0000-4000-8000-000000000401', '00000000-0000-4000-8000-000000000903',
   '00000000-0000-4000-8000-000000001103', '00000000-0000-4000-8000-000000001004', '00000000-0000-4000-8000-000000000501',
   'ada@mail.upgrade.test', 'lead1@example.org', 'Hello again', 'upgrade-queued@mail.upgrade.test', 0, null, null),
  ('00000000-0000-4000-8000-000000000101', 'inbound', 'received', '00000000-0000-4000-8000-000000000401', null, null, null, '00000000-0000-4000-8000-000000000501',
   'lead1@example.org', 'ada@mail.upgrade.test', 'Re: Hello Lee', 'upgrade-reply@example.org', 0, null, null);
update app_public.messages r set parent_message_id = s.id
  from app_public.messages s
  where r.rfc_message_id = 'upgrade-reply@example.org' and s.rfc_message_id = 'upgrade-sent@mail.upgrade.test';
update app_public.campaign_enrollments e set thread_message_id = m.id
  from app_public.messages m
  where e.id = '00000000-0000-4000-8000-000000001101' and m.rfc_message_id = 'upgrade-sent@mail.upgrade.test';

insert into app_public.email_events (tenant_id, message_id, campaign_id, lead_id, event_type, ip_address, metadata)
select m.tenant_id, m.id, m.campaign_id, m.lead_id, e.event_type, e.ip::inet, e.metadata::jsonb
from app_public.messages m,
  (values ('sent', null, '{}'), ('open', '203.0.113.7', '{"proxy": false}'), ('reply', null, '{}')) e(event_type, ip, metadata)
where m.rfc_message_id = 'upgrade-sent@mail.upgrade.test';

insert into app_public.suppressions (tenant_id, email, domain, reason) values
  ('00000000-0000-4000-8000-000000000101', 'lead2@example.org', null, 'unsubscribed'),
  ('00000000-0000-4000-8000-000000000101', null, 'blocked.example.org', 'manual');

insert into app_public.crm_accounts (tenant_id, id, name, domain, deleted_at) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000001201', 'Example Org', 'example.org', null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000001202', 'Gone Org', null, now() - interval '1 day');
insert into app_public.deals (tenant_id, id, title, value, stage, primary_lead_id, crm_account_id, owner_user_id, source_campaign_id, actual_close_date, deleted_at) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000001301', 'Open deal', 1200, 'proposal', '00000000-0000-4000-8000-000000000501',
   '00000000-0000-4000-8000-000000001201', '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000902', null, null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000001302', 'Won deal', 900, 'won', '00000000-0000-4000-8000-000000000501',
   null, '00000000-0000-4000-8000-000000000003', null, current_date, null),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000001303', 'Lost, deleted', null, 'lost', null, null, null, null, current_date, now());
insert into app_public.deal_contacts (tenant_id, deal_id, lead_id, role) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000001301', '00000000-0000-4000-8000-000000000501', 'champion');
