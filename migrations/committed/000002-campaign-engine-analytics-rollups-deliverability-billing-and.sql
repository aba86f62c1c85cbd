--! Previous: sha1:19f4830a979db3fbf20aebbd9fc2305ed068cab9
--! Hash: sha1:d5e0908cf42f3401f6914d023b9d00ed0a7d5915
--! AllowInvalidHash
--! Message: Campaign engine, analytics rollups, deliverability, billing and lead import: the tables the sending, DNS, IP pool, billing and import subsystems need

--! split: 1-current.sql
-- Enter migration here

--! split: 050-lead-import-failure.sql
-- Why a lead import failed. A failed import (plan contact limit, unreadable
-- file, a member who lost access) needs a message for the user; its row
-- errors stay in `errors`.
alter table app_public.lead_imports add column if not exists failure_reason text;
-- Imports that failed before reasons were recorded (000001 allowed them) get
-- one, so the constraint below holds on every row 000001 accepted.
update app_public.lead_imports
  set failure_reason = 'The import failed before this platform recorded why; its row errors, if any, are in errors.'
  where status = 'failed' and failure_reason is null;
alter table app_public.lead_imports drop constraint if exists lead_imports_failure_reason_check;
alter table app_public.lead_imports add constraint lead_imports_failure_reason_check check (
  (status = 'failed') = (failure_reason is not null) and length(failure_reason) between 1 and 2000
);
comment on column app_public.lead_imports.failure_reason is 'Why the import failed (for example the plan''s contact limit); null unless status is failed. Nothing of a failed import is kept.';

--! split: 080-analytics.sql
--------------------------------------------------------------------------------
-- Analytics rollups: per campaign and UTC day, the counts that campaign and
-- tenant statistics need, maintained by statement-level triggers on messages
-- and email_events (functions/095-analytics.sql), so reading statistics never
-- scans the message store. Rows are split over a few shards so concurrent
-- senders in one campaign do not queue on one row; readers sum the shards.
--------------------------------------------------------------------------------

create table app_public.campaign_stats_daily (
  tenant_id uuid not null default app_public.current_tenant_id(),
  campaign_id uuid not null,
  day date not null,
  shard smallint not null default 0 check (shard between 0 and 7),
  sent bigint not null default 0 check (sent >= 0),
  delivered bigint not null default 0 check (delivered >= 0),
  opened bigint not null default 0 check (opened >= 0),
  clicked bigint not null default 0 check (clicked >= 0),
  replied bigint not null default 0 check (replied >= 0),
  bounced bigint not null default 0 check (bounced >= 0),
  failed bigint not null default 0 check (failed >= 0),
  unsubscribed bigint not null default 0 check (unsubscribed >= 0),
  complained bigint not null default 0 check (complained >= 0),
  opens_total bigint not null default 0 check (opens_total >= 0),
  clicks_total bigint not null default 0 check (clicks_total >= 0),
  primary key (tenant_id, campaign_id, day, shard),
  foreign key (tenant_id, campaign_id) references app_public.campaigns (tenant_id, id) on delete cascade
);
comment on table app_public.campaign_stats_daily is 'Daily campaign counters (UTC days): messages sent, delivered, opened, clicked, replied, bounced (each message counted once, on the day it happened), unsubscribes, complaints and total opens/clicks. Sum over shards and days.';
comment on column app_public.campaign_stats_daily.shard is 'Spreads concurrent writers over several rows; always sum over shards.';
create index campaign_stats_daily_day_idx on app_public.campaign_stats_daily (tenant_id, day);

create type app_public.message_stats as (
  sent bigint,
  delivered bigint,
  opened bigint,
  clicked bigint,
  replied bigint,
  bounced bigint,
  failed bigint,
  unsubscribed bigint,
  complained bigint,
  opens_total bigint,
  clicks_total bigint,
  open_rate numeric,
  click_rate numeric,
  reply_rate numeric,
  bounce_rate numeric,
  unsubscribe_rate numeric
);
comment on type app_public.message_stats is 'Outreach statistics; rates are fractions of messages sent (0–1, null before anything was sent).';

--! split: 100-sending-engine.sql
--------------------------------------------------------------------------------
-- The sending engine (campaign lifecycle, sequences, SMTP delivery): the state
-- it keeps beyond the committed schema. Idempotent, so `db:watch` can re-run
-- it. See docs/sending.md.
--------------------------------------------------------------------------------

-- Why a campaign is paused, and by whom: the tenant (pauseCampaign) or the
-- system (plan limit reached, billing dunning, no inbox able to send).
-- resume_tenant_campaigns() only resumes what the system paused.
alter table app_public.campaigns add column if not exists paused_by text;
alter table app_public.campaigns add column if not exists pause_reason text;
alter table app_public.campaigns drop constraint if exists campaigns_paused_by_check;
alter table app_public.campaigns add constraint campaigns_paused_by_check check (paused_by in ('user', 'system'));
alter table app_public.campaigns drop constraint if exists campaigns_pause_reason_length;
alter table app_public.campaigns add constraint campaigns_pause_reason_length check (length(pause_reason) <= 1000);
comment on column app_public.campaigns.paused_by is 'Who paused the campaign: user (pauseCampaign) or system (plan limit, billing, no inbox able to send); null when not paused.';
comment on column app_public.campaigns.pause_reason is 'Why the system paused the campaign, in words a user can act on.';

-- Inbox pacing: the earliest moment the next campaign message may leave an
-- inbox (previous slot + a random gap between the campaign's min and max).
alter table app_public.email_accounts add column if not exists next_send_at timestamptz;
comment on column app_public.email_accounts.next_send_at is 'Earliest time the next campaign message may leave this inbox: the last booked send plus a random gap between the campaign''s min_gap_seconds and max_gap_seconds.';

-- The message an enrollment is delivering for its current step (booked,
-- being sent, or waiting for a retry); null between steps.
alter table app_public.campaign_enrollments add column if not exists current_message_id uuid;
alter table app_public.campaign_enrollments drop constraint if exists campaign_enrollments_current_message_fkey;
alter table app_public.campaign_enrollments
  add constraint campaign_enrollments_current_message_fkey foreign key (tenant_id, current_message_id)
  references app_public.messages (tenant_id, id) on delete set null (current_message_id);
create index if not exists campaign_enrollments_current_message_idx on app_public.campaign_enrollments (tenant_id, current_message_id);
comment on column app_public.campaign_enrollments.current_message_id is 'The message being delivered for the current email step (queued with a booked slot, sending, or waiting for a retry); null between steps.';

-- The engine's clock: now() plus an offset that is zero in production. Tests
-- (and drills) move it forward with app_private.advance_engine_clock(), which
-- also moves the engine's pending jobs, so sequence timing is testable without
-- waiting real hours.
create table if not exists app_private.engine_clock (
  id integer primary key check (id = 1),
  offset_by interval not null default interval '0',
  updated timestamptz not null default now()
);
comment on table app_private.engine_clock is 'Offset of the sending engine''s clock from real time (one row; zero in production, moved by tests through advance_engine_clock).';
insert into app_private.engine_clock (id) values (1) on conflict (id) do nothing;

-- Earlier names of the credential flags (functions/140-credentials-and-rendering.sql).
drop function if exists app_public.email_accounts_has_smtp_password(app_public.email_accounts);
drop function if exists app_public.email_accounts_has_imap_password(app_public.email_accounts);

--! split: 200-deliverability.sql
--------------------------------------------------------------------------------
-- Deliverability: the shape of a domain's dns_records document (enforced by a
-- CHECK constraint), a pool of pre-generated DKIM keys so a new domain gets
-- its complete records in the same statement that creates it, and the
-- bookkeeping columns of the IP pool lifecycle (functions/210–230).
-- Idempotent: graphile-migrate re-runs current migrations while developing.
--------------------------------------------------------------------------------

--------------------------------------------------------------------------------
-- dns_records document (seed 001): {"records": [{record_type, name, value,
-- ttl, verification_status, last_verified_at, verification_attempts,
-- verification_error, source, …type-specific fields}]}. Defined here, not in
-- functions/, because the CHECK constraint below depends on it; in app_hidden
-- because the API roles that insert domains evaluate that CHECK.
--------------------------------------------------------------------------------

create or replace function app_hidden.dns_record_problem(r jsonb) returns text
  language plpgsql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_type text;
  v_allowed text[] := array[
    'record_type', 'name', 'value', 'ttl', 'verification_status', 'last_verified_at',
    'verification_attempts', 'verification_error', 'source'
  ];
  v_unknown text;
begin
  if jsonb_typeof(r) is distinct from 'object' then
    return 'each record must be a JSON object';
  end if;
  v_type := r ->> 'record_type';
  if v_type is null or v_type not in ('SPF', 'DKIM', 'DMARC', 'MX', 'A', 'AAAA', 'CNAME') then
    return format('record_type must be one of SPF, DKIM, DMARC, MX, A, AAAA, CNAME, not %s', coalesce(r -> 'record_type', 'null'::jsonb));
  end if;
  v_allowed := v_allowed || case v_type
    when 'DKIM' then array['selector', 'public_key', 'managed_by', 'secret_ref', 'needs_deployment', 'role']
    when 'DMARC' then array['policy']
    when 'MX' then array['priority', 'mx_hosts']
    when 'SPF' then array['dns_lookups', 'void_lookups']
    else array[]::text[]
  end;
  select string_agg(k, ', ' order by k) into v_unknown from jsonb_object_keys(r) k where k <> all (v_allowed);
  if v_unknown is not null then
    return format('%s record has unknown field(s) %s', v_type, v_unknown);
  end if;
  if jsonb_typeof(r -> 'name') is distinct from 'string'
     or (r ->> 'name') !~ '^(@|[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*)$' then
    return format('%s record: name must be "@" or a relative DNS name such as _dmarc, not %s', v_type, coalesce(r -> 'name', 'null'::jsonb));
  end if;
  if jsonb_typeof(r -> 'value') = 'null' or r -> 'value' is null then
    -- Only a DKIM record may wait for its key.
    if v_type <> 'DKIM' then
      return format('%s record %s: value is required', v_type, r ->> 'name');
    end if;
  elsif jsonb_typeof(r -> 'value') <> 'string' or length(r ->> 'value') not between 1 and 4096 then
    return format('%s record %s: value must be a string of 1 to 4096 characters', v_type, r ->> 'name');
  end if;
  if r ? 'ttl' and (jsonb_typeof(r -> 'ttl') <> 'number' or (r ->> 'ttl') !~ '^[0-9]{1,10}$' or (r ->> 'ttl')::bigint > 2147483647) then
    return format('%s record %s: ttl must be a whole number of seconds', v_type, r ->> 'name');
  end if;
  if (r ->> 'verification_status') is null or (r ->> 'verification_status') not in ('pending', 'verified', 'failed', 'error') then
    return format('%s record %s: verification_status must be pending, verified, failed or error', v_type, r ->> 'name');
  end if;
  if jsonb_typeof(r -> 'verification_attempts') is distinct from 'number' or (r ->> 'verification_attempts') !~ '^[0-9]{1,9}$' then
    return format('%s record %s: verification_attempts must be a whole number', v_type, r ->> 'name');
  end if;
  if r ? 'verification_error' and jsonb_typeof(r -> 'verification_error') not in ('null', 'string') then
    return format('%s record %s: verification_error must be text or null', v_type, r ->> 'name');
  end if;
  if r ? 'last_verified_at' and jsonb_typeof(r -> 'last_verified_at') <> 'null'
     and (jsonb_typeof(r -> 'last_verified_at') <> 'string'
          or (r ->> 'last_verified_at') !~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$') then
    return format('%s record %s: last_verified_at must be an ISO 8601 timestamp or null', v_type, r ->> 'name');
  end if;
  if r ? 'source' and (r ->> 'source') not in ('ui', 'platform', 'api') then
    return format('%s record %s: source must be ui, platform or api', v_type, r ->> 'name');
  end if;

  if v_type = 'DKIM' then
    if (r ->> 'selector') is null or (r ->> 'selector') !~ '^[a-z0-9][a-z0-9-]{0,62}$' then
      return format('DKIM record %s: selector must be lower-case letters, digits and hyphens', r ->> 'name');
    end if;
    if r ->> 'name' <> (r ->> 'selector') || '._domainkey' then
      return format('DKIM record %s: name must be %s._domainkey', r ->> 'name', r ->> 'selector');
    end if;
    if r ? 'public_key' and jsonb_typeof(r -> 'public_key') <> 'null'
       and (jsonb_typeof(r -> 'public_key') <> 'string' or (r ->> 'public_key') !~ '^[A-Za-z0-9+/]+={0,2}$') then
      return format('DKIM record %s: public_key must be base64 or null', r ->> 'name');
    end if;
    if ((r ->> 'value') is null) <> ((r ->> 'public_key') is null) then
      return format('DKIM record %s: value and public_key are set together (both null while the key is generated)', r ->> 'name');
    end if;
    if r ? 'managed_by' and (r ->> 'managed_by') not in ('platform', 'mailu') then
      return format('DKIM record %s: managed_by must be platform or mailu', r ->> 'name');
    end if;
    if r ? 'secret_ref' and jsonb_typeof(r -> 'secret_ref') not in ('null', 'string') then
      return format('DKIM record %s: secret_ref must be text or null', r ->> 'name');
    end if;
    if r ? 'needs_deployment' and jsonb_typeof(r -> 'needs_deployment') <> 'boolean' then
      return format('DKIM record %s: needs_deployment must be true or false', r ->> 'name');
    end if;
    if r ? 'role' and (r ->> 'role') not in ('active', 'next') then
      return format('DKIM record %s: role must be active (the key mail is signed with) or next (a rotated key waiting to be published)', r ->> 'name');
    end if;
  elsif v_type = 'DMARC' then
    if r ? 'policy' and jsonb_typeof(r -> 'policy') <> 'null' and (r ->> 'policy') not in ('none', 'quarantine', 'reject') then
      return format('DMARC record %s: policy must be none, quarantine or reject', r ->> 'name');
    end if;
  elsif v_type = 'MX' then
    if jsonb_typeof(r -> 'priority') is distinct from 'number' or (r ->> 'priority') !~ '^[0-9]{1,5}$' or (r ->> 'priority')::int > 65535 then
      return format('MX record %s: priority must be a whole number from 0 to 65535', r ->> 'name');
    end if;
    if r ? 'mx_hosts' and (jsonb_typeof(r -> 'mx_hosts') <> 'array'
        or exists (select 1 from jsonb_array_elements(r -> 'mx_hosts') h where jsonb_typeof(h) <> 'string')) then
      return format('MX record %s: mx_hosts must be a list of host names', r ->> 'name');
    end if;
  elsif v_type = 'SPF' then
    if (r ? 'dns_lookups' and (r ->> 'dns_lookups') !~ '^[0-9]{1,4}$')
       or (r ? 'void_lookups' and (r ->> 'void_lookups') !~ '^[0-9]{1,4}$') then
      return format('SPF record %s: dns_lookups and void_lookups must be whole numbers', r ->> 'name');
    end if;
  end if;
  return null;
end;
$$;
comment on function app_hidden.dns_record_problem(jsonb) is 'Why one dns_records entry breaks seed 001''s structure (null when it is valid).';

create or replace function app_hidden.dns_records_problem(doc jsonb) returns text
  language plpgsql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_record jsonb;
  v_index integer := 0;
  v_problem text;
  v_duplicate text;
begin
  if jsonb_typeof(doc) is distinct from 'object' or jsonb_typeof(doc -> 'records') is distinct from 'array' then
    return 'dns_records must be an object {"records": [...]}';
  end if;
  if exists (select 1 from jsonb_object_keys(doc) k where k <> 'records') then
    return 'dns_records holds only "records"';
  end if;
  for v_record in select e from jsonb_array_elements(doc -> 'records') e loop
    v_problem := app_hidden.dns_record_problem(v_record);
    if v_problem is not null then
      return format('records[%s]: %s', v_index, v_problem);
    end if;
    v_index := v_index + 1;
  end loop;
  select (e ->> 'record_type') || ' ' || (e ->> 'name') into v_duplicate
  from jsonb_array_elements(doc -> 'records') e
  group by e ->> 'record_type', e ->> 'name'
  having count(*) > 1
  limit 1;
  if v_duplicate is not null then
    return format('the %s record is listed twice', v_duplicate);
  end if;
  return null;
end;
$$;
comment on function app_hidden.dns_records_problem(jsonb) is 'Why a dns_records document breaks seed 001''s structure (null when it is valid): the CHECK on domains.dns_records and every writer use it.';

-- Documents 000001 accepted (it checked only {"records": [...]}) but this
-- structure refuses are repaired before the constraint: entries that break it
-- (a record without a name or value, an unknown type, …) cannot be published
-- or checked, so they are removed; a record listed twice keeps its first
-- entry; keys beside "records" are dropped. Such a domain is checked again
-- (verifying), and dns_verification_error says what the upgrade removed.
with broken as (
  select d.tenant_id, d.id, d.dns_records as doc
  from app_public.domains d
  where app_hidden.dns_records_problem(d.dns_records) is not null
), repaired as (
  select b.tenant_id, b.id,
    coalesce((
      select jsonb_agg(e.r order by e.i)
      from jsonb_array_elements(b.doc -> 'records') with ordinality e(r, i)
      where app_hidden.dns_record_problem(e.r) is null
        and not exists (
          select 1 from jsonb_array_elements(b.doc -> 'records') with ordinality f(r, i)
          where f.i < e.i and app_hidden.dns_record_problem(f.r) is null
            and f.r ->> 'record_type' = e.r ->> 'record_type' and f.r ->> 'name' = e.r ->> 'name')
    ), '[]'::jsonb) as records,
    jsonb_array_length(b.doc -> 'records') as before_count
  from broken b
)
update app_public.domains d set
  dns_records = jsonb_build_object('records', r.records),
  verification_status = 'verifying',
  dns_next_check_at = now(),
  dns_verification_error = format(
    'The upgrade removed %s DNS record entries that did not match the record structure (a record without a name or value, an unknown type, or one listed twice); publish the records listed now.',
    r.before_count - jsonb_array_length(r.records))
from repaired r
where d.tenant_id = r.tenant_id and d.id = r.id;
alter table app_public.domains drop constraint if exists domains_dns_records_valid;
alter table app_public.domains add constraint domains_dns_records_valid check (app_hidden.dns_records_problem(dns_records) is null);

--------------------------------------------------------------------------------
-- DKIM keys. RSA keys need the worker (pgcrypto cannot make them), so the
-- worker keeps a small stock of sealed key pairs; inserting a domain takes one
-- in the same statement and its DNS records are complete at once. When the
-- stock is empty the domain's DKIM record waits (value null) for a key made
-- for it, typically within a second.
--------------------------------------------------------------------------------

create table if not exists app_private.dkim_key_pool (
  id uuid primary key default gen_random_uuid(),
  public_key text not null check (public_key ~ '^[A-Za-z0-9+/]+={0,2}$'),
  private_key_encrypted bytea not null,
  key_bits integer not null check (key_bits >= 2048),
  created timestamptz not null default now(),
  claimed_tenant_id uuid,
  claimed_domain_id uuid,
  check ((claimed_tenant_id is null) = (claimed_domain_id is null))
);
comment on table app_private.dkim_key_pool is 'Pre-generated DKIM key pairs (private key sealed like domain_dkim_keys) waiting for a new domain; a domain insert claims one and moves it to domain_dkim_keys.';
comment on column app_private.dkim_key_pool.claimed_domain_id is 'Set by the domain insert that took this key, in the same statement that moves it to domain_dkim_keys.';
create index if not exists dkim_key_pool_unclaimed_idx on app_private.dkim_key_pool (created) where claimed_domain_id is null;
create index if not exists dkim_key_pool_claimed_idx on app_private.dkim_key_pool (claimed_tenant_id, claimed_domain_id) where claimed_domain_id is not null;

alter table app_private.domain_dkim_keys
  add column if not exists key_bits integer check (key_bits >= 1024),
  add column if not exists retired_at timestamptz;
comment on column app_private.domain_dkim_keys.retired_at is 'When a rotated key replaced this one for signing; mail is signed with the domain''s dkim_selector, whose key is never retired.';
comment on column app_private.domain_dkim_keys.private_key_encrypted is 'PKCS#8 PEM of the RSA private key, sealed with makeSecretBox (PM_SECRETS_KEY): version byte, IV, tag, ciphertext.';
comment on column app_private.domain_dkim_keys.public_key is 'Base64 SubjectPublicKeyInfo (DER): the p= value of the DKIM TXT record.';

-- One row of domains.records_to_publish: what to enter at the DNS provider.
-- (The function returned a set while this migration was being written.)
drop function if exists app_public.domains_records_to_publish(app_public.domains);
drop function if exists app_private.record_domain_check(uuid, uuid, jsonb);
do $$
begin
  if to_regtype('app_public.dns_record_to_publish') is null then
    create type app_public.dns_record_to_publish as (
      record_type text,
      host text,
      type text,
      value text,
      zone_value text,
      ttl integer,
      priority integer,
      verification_status text,
      verification_error text
    );
  end if;
end;
$$;
comment on type app_public.dns_record_to_publish is 'A DNS record the domain must publish: record_type (SPF, DKIM, DMARC, MX), the full host name, the DNS type (TXT, MX), the exact value, the value as quoted 255-character strings for zone files and providers that need them, TTL, MX priority and its verification state.';

--------------------------------------------------------------------------------
-- IP pool lifecycle bookkeeping.
--------------------------------------------------------------------------------

alter table app_public.vps_instances
  add column if not exists status_reason text check (length(status_reason) <= 500),
  add column if not exists status_changed_at timestamptz;
comment on column app_public.vps_instances.status is 'provisioning → active → scheduled_decommission → decommissioned (or back to active); changed with setVpsInstanceStatus.';
comment on column app_public.vps_instances.status_reason is 'Why the server last changed status.';

alter table app_public.smtp_ip_addresses
  add column if not exists status_reason text check (length(status_reason) <= 500),
  add column if not exists status_changed_at timestamptz,
  add column if not exists auto_quarantined boolean not null default false;
comment on column app_public.smtp_ip_addresses.status is 'available → assigned/warming → warmed; warmed/warming → degraded → burned; any → quarantined → available after delisting. Changed with setSmtpIpStatus, assignSmtpIpToDomain and the reputation checks.';
comment on column app_public.smtp_ip_addresses.status_reason is 'Why the IP last changed status (e.g. the blocklists that listed it).';
comment on column app_public.smtp_ip_addresses.auto_quarantined is 'The reputation check quarantined this IP because a blocklist listed it; it returns to the pool by itself once every blocklist has delisted it.';
comment on column app_public.smtp_ip_addresses.assigned_count is 'Live (not expired) domain assignments on this IP, kept by a trigger on domain_ip_assignments.';
comment on column app_public.smtp_ip_addresses.daily_limit is 'Most messages a day once warmed (null: no platform cap); while warming the ramp allows less.';

alter table app_public.domain_ip_assignments
  add column if not exists status_reason text check (length(status_reason) <= 500),
  add column if not exists flagged_reason text check (length(flagged_reason) <= 500),
  add column if not exists flagged_at timestamptz;
alter table app_public.domain_ip_assignments drop constraint if exists domain_ip_assignments_flag_check;
alter table app_public.domain_ip_assignments add constraint domain_ip_assignments_flag_check check ((flagged_at is null) = (flagged_reason is null));
comment on column app_public.domain_ip_assignments.status is 'scheduled → warming → active → expired (scheduled may go straight to active on a warmed IP); changed with setDomainIpAssignmentStatus.';
comment on column app_public.domain_ip_assignments.status_reason is 'Why the assignment last changed status, e.g. that its IP was quarantined and which IP took over.';
comment on column app_public.domain_ip_assignments.flagged_reason is 'Set when staff must act: the IP was quarantined or burned and no healthy IP was free to take over.';
create index if not exists domain_ip_assignments_flagged_idx on app_public.domain_ip_assignments (flagged_at) where flagged_at is not null;

--! split: 250-billing.sql
--------------------------------------------------------------------------------
-- Billing: usage figures exposed to the API, roll-over bookkeeping, Stripe
-- event outcomes, and the gauges backfilled for tenants that already exist.
-- Idempotent (graphile-migrate's watch re-runs this file on every save).
-- Behaviour lives in functions/060-usage-limits.sql and functions/25x-*.sql.
--------------------------------------------------------------------------------

-- One row of current_usage(): a metric, how much of it is used, the limit
-- (null: unlimited) and the plan that sets it.
do $$
begin
  if to_regtype('app_public.usage_metric') is null then
    create type app_public.usage_metric as (
      metric text,
      used bigint,
      "limit" bigint,
      plan text
    );
  end if;
  if to_regtype('app_public.usage_figures') is null then
    create type app_public.usage_figures as (
      emails_sent bigint,
      campaigns_started bigint,
      warmups bigint,
      contacts bigint,
      domains bigint,
      email_accounts bigint,
      users bigint
    );
  end if;
end;
$$;
comment on type app_public.usage_metric is 'Usage of one plan metric in the current billing period: how much is used, the limit (null: unlimited, add-ons included) and the plan that sets it.';
comment on column app_public.usage_metric.metric is 'emails_sent, campaigns_started, warmups (counted per billing period) or contacts, domains, email_accounts, users (what exists right now).';
comment on column app_public.usage_metric.used is 'Events counted in the open period, or resources that exist now.';
comment on column app_public.usage_metric."limit" is 'The plan''s limit plus active add-ons; null means unlimited.';
comment on column app_public.usage_metric.plan is 'Name of the plan whose limit applies.';
comment on type app_public.usage_figures is 'Usage figures of one billing period: live for the open period, final (snapshotted at roll-over) for closed ones.';

-- limit_exceeded_message gained a `requested` argument (functions/060).
drop function if exists app_private.limit_exceeded_message(text, text, bigint, bigint);

-- The roll-over looks for open periods whose end has passed.
create index if not exists usage_periods_due_idx on app_public.usage_periods (period_end) where closed_at is null;

-- Stripe webhooks find a tenant by its Stripe customer.
create index if not exists tenant_config_stripe_customer_idx on app_public.tenant_config (stripe_customer_id)
  where stripe_customer_id is not null;

-- What happened to each Stripe event (the payload is kept either way).
alter table app_private.stripe_events add column if not exists outcome text;
alter table app_private.stripe_events drop constraint if exists stripe_events_outcome_check;
alter table app_private.stripe_events add constraint stripe_events_outcome_check check (
  outcome in ('applied', 'stale', 'unknown_customer', 'ignored', 'failed')
);
comment on column app_private.stripe_events.outcome is 'applied; stale (older than the state already applied); unknown_customer (no tenant has that customer or subscription); ignored (event type not handled); failed (see error).';

-- Gauges for the tenants that exist when this migration runs (later changes
-- are counted by the statement-level triggers of functions/250-billing-gauges.sql).
insert into app_private.resource_counts as rc (tenant_id, resource, value)
select t.id, r.resource,
  case r.resource
    when 'contacts' then (select count(*) from app_public.leads l where l.tenant_id = t.id)
    when 'domains' then (select count(*) from app_public.domains d where d.tenant_id = t.id)
    when 'email_accounts' then (select count(*) from app_public.email_accounts ea where ea.tenant_id = t.id)
    when 'users' then (select count(*) from app_public.tenant_users tu where tu.tenant_id = t.id and tu.deleted is null)
  end
from app_public.tenants t
cross join (values ('contacts'), ('domains'), ('email_accounts'), ('users')) as r (resource)
on conflict (tenant_id, resource) do update set value = excluded.value;
