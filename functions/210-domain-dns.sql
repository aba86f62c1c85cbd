--------------------------------------------------------------------------------
-- Sending domains: the DNS records a domain must publish (its
-- dns_records document), its DKIM key, and the verification state machine.
--
-- Adding a domain fills dns_records with the expected SPF, DKIM, DMARC and MX
-- records. The DKIM key comes from the worker's stock of pre-generated keys
-- (app_private.dkim_key_pool), so the records are complete in the statement
-- that creates the domain; when the stock is empty the DKIM record waits
-- (value null) for the generate_dkim_key job, typically under a second.
--
-- The verify_domain task resolves the records (TypeScript talks to DNS) and
-- hands its findings to app_private.record_domain_check, which owns every
-- status, counter, rollup and the next check time (backoff).
--------------------------------------------------------------------------------

create or replace function app_private.deliverability_setting(key text) returns jsonb
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce(
    (select sc.value from app_public.system_config sc where sc.key = 'deliverability.' || deliverability_setting.key),
    case deliverability_setting.key
      when 'spf_include' then '"_spf.penguinmails.io"'
      when 'mx_host' then '"mail.penguinmails.io"'
      when 'mx_priority' then '10'
      when 'dmarc_policy' then '"quarantine"'
      when 'record_ttl' then '3600'
      when 'dkim_key_pool_size' then '5'
    end::jsonb
  );
$$;
comment on function app_private.deliverability_setting(text) is 'A platform DNS setting: the system_config value deliverability.<key> when staff set one (setSystemConfig), else the built-in default: spf_include _spf.penguinmails.io (the host every tenant SPF record must include), mx_host mail.penguinmails.io and mx_priority 10 (the suggested MX), dmarc_policy quarantine, record_ttl 3600, dkim_key_pool_size 5 (stocked DKIM keys).';

create or replace function app_private.record_fqdn(name text, domain text) returns text
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select case when name = '@' then lower(domain) else lower(name || '.' || domain) end;
$$;
comment on function app_private.record_fqdn(text, text) is 'The full host name of a dns_records entry ("@" is the domain itself).';

create or replace function app_private.dkim_record(domain_id uuid, selector text, public_key text, role text default 'active') returns jsonb
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select jsonb_build_object(
    'record_type', 'DKIM',
    'name', selector || '._domainkey',
    'selector', selector,
    'value', case when public_key is not null then 'v=DKIM1; k=rsa; p=' || public_key end,
    'public_key', public_key,
    'managed_by', 'platform',
    'secret_ref', format('pm-secretbox://app_private.domain_dkim_keys/%s/%s', domain_id, selector),
    'needs_deployment', public_key is null,
    'role', role,
    'ttl', (app_private.deliverability_setting('record_ttl') #>> '{}')::integer,
    'verification_status', 'pending',
    'last_verified_at', null,
    'verification_attempts', 0,
    'verification_error', null,
    'source', 'platform'
  );
$$;
comment on function app_private.dkim_record(uuid, text, text, text) is 'The DKIM entry of dns_records for a selector: v=DKIM1; k=rsa; p=<public key>, or value null while the key is being generated.';

create or replace function app_private.expected_dns_records(domain text, domain_id uuid, selector text, public_key text) returns jsonb
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  with s as (
    select (app_private.deliverability_setting('record_ttl') #>> '{}')::integer as ttl,
           app_private.deliverability_setting('spf_include') #>> '{}' as spf_include,
           app_private.deliverability_setting('mx_host') #>> '{}' as mx_host,
           (app_private.deliverability_setting('mx_priority') #>> '{}')::integer as mx_priority,
           app_private.deliverability_setting('dmarc_policy') #>> '{}' as dmarc_policy
  )
  select jsonb_build_object('records', jsonb_build_array(
    jsonb_build_object('record_type', 'SPF', 'name', '@', 'value', 'v=spf1 include:' || s.spf_include || ' -all',
      'ttl', s.ttl, 'verification_status', 'pending', 'last_verified_at', null, 'verification_attempts', 0,
      'verification_error', null, 'source', 'platform'),
    app_private.dkim_record(domain_id, selector, public_key),
    jsonb_build_object('record_type', 'DMARC', 'name', '_dmarc',
      'value', format('v=DMARC1; p=%s; rua=mailto:dmarc@%s', s.dmarc_policy, lower(domain)), 'policy', s.dmarc_policy,
      'ttl', s.ttl, 'verification_status', 'pending', 'last_verified_at', null, 'verification_attempts', 0,
      'verification_error', null, 'source', 'platform'),
    jsonb_build_object('record_type', 'MX', 'name', '@', 'value', rtrim(s.mx_host, '.') || '.', 'priority', s.mx_priority,
      'mx_hosts', '[]'::jsonb, 'ttl', s.ttl, 'verification_status', 'pending', 'last_verified_at', null,
      'verification_attempts', 0, 'verification_error', null, 'source', 'platform')
  ))
  from s;
$$;
comment on function app_private.expected_dns_records(text, uuid, text, text) is 'The dns_records document a new domain must publish: SPF including the platform, DKIM with its public key, DMARC and MX, all pending verification.';

--------------------------------------------------------------------------------
-- The DKIM key stock and key installation.
--------------------------------------------------------------------------------

create or replace function app_private.dkim_pool_shortfall() returns integer
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select greatest(0, (app_private.deliverability_setting('dkim_key_pool_size') #>> '{}')::integer
    - (select count(*)::integer from app_private.dkim_key_pool p where p.claimed_domain_id is null));
$$;
comment on function app_private.dkim_pool_shortfall() is 'How many DKIM keys the worker should generate to bring the stock back to deliverability.dkim_key_pool_size.';

create or replace function app_private.release_orphaned_dkim_claims() returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_claim record;
  v_count integer := 0;
begin
  -- A claim is committed together with its domain, whose insert trigger moves
  -- the key away; a committed claim without a domain comes from an insert that
  -- was skipped (INSERT … ON CONFLICT DO NOTHING): the key goes back to stock.
  -- One claim at a time: each domain lookup names its tenant (one shard on
  -- Citus, which refuses an update of the stock, a reference table, joined
  -- with a distributed table).
  for v_claim in
    select p.id, p.claimed_tenant_id, p.claimed_domain_id from app_private.dkim_key_pool p where p.claimed_domain_id is not null
  loop
    continue when exists (
      select 1 from app_public.domains d where d.tenant_id = v_claim.claimed_tenant_id and d.id = v_claim.claimed_domain_id);
    update app_private.dkim_key_pool p
      set claimed_tenant_id = null, claimed_domain_id = null
      where p.id = v_claim.id and p.claimed_domain_id = v_claim.claimed_domain_id;
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;
comment on function app_private.release_orphaned_dkim_claims() is 'Returns to the stock keys claimed by domain inserts that did not happen; run by the refill job. Returns how many.';

create or replace function app_private.queue_dkim_pool_refill() returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if app_private.dkim_pool_shortfall() > 0 then
    perform app_private.add_job(null, 'dkim_key_pool_refill', '{}'::json,
      job_key => 'dkim_key_pool_refill', job_key_mode => 'preserve_run_at', max_attempts => 5);
  end if;
end;
$$;
comment on function app_private.queue_dkim_pool_refill() is 'Queues (once) the job that tops up the DKIM key stock, when it is short.';

create or replace function app_private.take_dkim_key(tenant_id uuid, domain_id uuid) returns app_private.dkim_key_pool
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_key app_private.dkim_key_pool;
begin
  -- On a Citus worker node (a domain inserted there, by its shard's trigger)
  -- the stock, a reference table, cannot be written: no key is taken and the
  -- domain gets one from the generate_dkim_key job.
  if not app_private.on_coordinator() then
    return null;
  end if;
  update app_private.dkim_key_pool p
    set claimed_tenant_id = take_dkim_key.tenant_id, claimed_domain_id = take_dkim_key.domain_id
    where p.id = (
      select q.id from app_private.dkim_key_pool q
      where q.claimed_domain_id is null
      order by q.created
      limit 1
      for update skip locked
    )
    returning p.* into v_key;
  perform app_private.queue_dkim_pool_refill();
  return v_key;
end;
$$;
comment on function app_private.take_dkim_key(uuid, uuid) is 'Claims the oldest unclaimed stocked DKIM key for a domain (null when the stock is empty) and asks for a refill.';

create or replace function app_private.install_dkim_key(
  tenant_id uuid,
  domain_id uuid,
  selector text,
  public_key text,
  private_key_encrypted bytea,
  key_bits integer
) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform 1 from app_public.domains d
    where d.tenant_id = install_dkim_key.tenant_id and d.id = install_dkim_key.domain_id
      and exists (
        select 1 from jsonb_array_elements(d.dns_records -> 'records') r
        where r ->> 'record_type' = 'DKIM' and r ->> 'selector' = install_dkim_key.selector and r -> 'public_key' = 'null'::jsonb)
    for update;
  if not found then
    -- The domain is gone, or its record already has a key (a retried job).
    return false;
  end if;
  -- The trigger on domain_dkim_keys completes the DNS record.
  insert into app_private.domain_dkim_keys (tenant_id, domain_id, selector, private_key_encrypted, public_key, key_bits)
    values (install_dkim_key.tenant_id, install_dkim_key.domain_id, install_dkim_key.selector,
            install_dkim_key.private_key_encrypted, install_dkim_key.public_key, install_dkim_key.key_bits)
    on conflict on constraint domain_dkim_keys_pkey do nothing;
  return found;
end;
$$;
comment on function app_private.install_dkim_key(uuid, uuid, text, text, bytea, integer) is 'Called by the worker with a key generated for a domain whose DKIM record is waiting: stores the sealed private key (which completes the record and queues verification). Idempotent: false when the record already has a key.';

create or replace function app_private.tg__dkim_key_record() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_domain app_public.domains;
  v_records jsonb;
begin
  -- The DKIM record always shows the stored key: a new or replaced key is
  -- written into it (pending verification again, since it must be published).
  -- The new document is computed first and written as a value (Citus takes
  -- no stable call over the row's columns in an UPDATE).
  select d.dns_records into v_records from app_public.domains d
    where d.tenant_id = new.tenant_id and d.id = new.domain_id
    for update;
  if v_records is null or not exists (
    select 1 from jsonb_array_elements(v_records -> 'records') r
    where r ->> 'record_type' = 'DKIM' and r ->> 'selector' = new.selector and r ->> 'public_key' is distinct from new.public_key
  ) then
    return null;
  end if;
  v_records := jsonb_build_object('records', (
    select jsonb_agg(
      case when r ->> 'record_type' = 'DKIM' and r ->> 'selector' = new.selector
        then app_private.dkim_record(new.domain_id, new.selector, new.public_key, coalesce(r ->> 'role', 'active'))
        else r end
      order by i)
    from jsonb_array_elements(v_records -> 'records') with ordinality e(r, i)));
  update app_public.domains d set dns_records = v_records
    where d.tenant_id = new.tenant_id and d.id = new.domain_id
    returning * into v_domain;
  -- Records complete: a domain waiting for its first check gets it now.
  if v_domain.verification_status = 'pending' and not exists (
    select 1 from jsonb_array_elements(v_domain.dns_records -> 'records') r where r -> 'value' = 'null'::jsonb
  ) then
    update app_public.domains d set verification_status = 'verifying', dns_next_check_at = now()
      where d.tenant_id = v_domain.tenant_id and d.id = v_domain.id
      returning * into v_domain;
  end if;
  if v_domain.verification_status = 'verifying' or exists (
    select 1 from jsonb_array_elements(v_domain.dns_records -> 'records') r where r ->> 'selector' = new.selector and r ->> 'role' = 'next'
  ) then
    perform app_private.queue_domain_verification(v_domain.tenant_id, v_domain.id);
  end if;
  return null;
end;
$$;
comment on function app_private.tg__dkim_key_record() is 'Keeps the DKIM entry of dns_records equal to the stored key of its selector, and queues the first check once a domain''s records are complete.';

create or replace trigger _210_dns_record
  after insert or update of public_key on app_private.domain_dkim_keys
  for each row execute function app_private.tg__dkim_key_record();

--------------------------------------------------------------------------------
-- Domain triggers: fill the records on insert, attach the claimed key, queue
-- what the worker must do.
--------------------------------------------------------------------------------

create or replace function app_private.tg__domain_dns_records() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_key app_private.dkim_key_pool;
begin
  if not exists (
    select 1 from jsonb_array_elements(new.dns_records -> 'records') r
    where r ->> 'record_type' = 'DKIM' and r ->> 'selector' = new.dkim_selector
  ) then
    v_key := app_private.take_dkim_key(new.tenant_id, new.id);
    if jsonb_array_length(new.dns_records -> 'records') = 0 then
      new.dns_records := app_private.expected_dns_records(new.domain, new.id, new.dkim_selector, v_key.public_key);
    else
      -- Records supplied by the owner (imports, seeds): add the DKIM key only.
      new.dns_records := jsonb_set(new.dns_records, '{records}',
        (new.dns_records -> 'records') || jsonb_build_array(app_private.dkim_record(new.id, new.dkim_selector, v_key.public_key)));
    end if;
  end if;
  -- Verification starts by itself for a domain added through the API
  -- (pending) once its records are complete; a domain inserted in another
  -- state (a seed, an import) is checked when someone asks (verifyDomain).
  if new.verification_status = 'pending' and not exists (
    select 1 from jsonb_array_elements(new.dns_records -> 'records') r where r -> 'value' = 'null'::jsonb
  ) then
    new.verification_status := 'verifying';
    new.dns_next_check_at := now();
  end if;
  return new;
end;
$$;
comment on function app_private.tg__domain_dns_records() is 'Before a domain is inserted: fills dns_records with the expected SPF, DKIM, DMARC and MX records, taking a stocked DKIM key when there is one.';

create or replace function app_private.tg__domain_dkim_key() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- A claimed stock key (never on a Citus worker node, see take_dkim_key).
  if app_private.on_coordinator() then
    with claimed as (
      delete from app_private.dkim_key_pool p
      where p.claimed_tenant_id = new.tenant_id and p.claimed_domain_id = new.id
      returning p.*
    )
    insert into app_private.domain_dkim_keys (tenant_id, domain_id, selector, private_key_encrypted, public_key, key_bits)
    select new.tenant_id, new.id, new.dkim_selector, c.private_key_encrypted, c.public_key, c.key_bits from claimed c;
  end if;

  if exists (
    select 1 from jsonb_array_elements(new.dns_records -> 'records') r
    where r ->> 'record_type' = 'DKIM' and r -> 'public_key' = 'null'::jsonb
  ) then
    perform app_private.add_job(new.tenant_id, 'generate_dkim_key',
      json_build_object('tenant_id', new.tenant_id, 'domain_id', new.id, 'selector', new.dkim_selector),
      job_key => 'generate_dkim_key:' || new.id || ':' || new.dkim_selector, max_attempts => 10);
  end if;
  if new.verification_status = 'verifying' then
    perform app_private.queue_domain_verification(new.tenant_id, new.id);
  end if;
  return null;
end;
$$;
comment on function app_private.tg__domain_dkim_key() is 'After a domain is inserted: stores the DKIM key it claimed (or queues generate_dkim_key when the stock was empty) and queues its first verification.';

create or replace trigger _210_dns_records
  before insert on app_public.domains
  for each row execute function app_private.tg__domain_dns_records();

create or replace trigger _220_dkim_key
  after insert on app_public.domains
  for each row execute function app_private.tg__domain_dkim_key();

--------------------------------------------------------------------------------
-- Verification: queueing, the plan the worker follows, and recording results.
--------------------------------------------------------------------------------

create or replace function app_private.queue_domain_verification(tenant_id uuid, domain_id uuid, run_at timestamptz default now(), keep_earlier boolean default false) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.add_job(tenant_id, 'verify_domain',
    json_build_object('tenant_id', tenant_id, 'domain_id', domain_id),
    run_at => run_at,
    job_key => 'verify_domain:' || domain_id,
    job_key_mode => case when keep_earlier then 'preserve_run_at' else 'replace' end,
    max_attempts => 5);
end;
$$;
comment on function app_private.queue_domain_verification(uuid, uuid, timestamptz, boolean) is 'Queues one verify_domain job per domain (job_key): replace moves a queued check to run_at, keep_earlier leaves an already queued check where it is.';

create or replace function app_private.queue_due_domain_checks(at timestamptz default now()) returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_domain record;
  v_count integer := 0;
begin
  for v_domain in
    select d.tenant_id, d.id from app_public.domains d
    join app_public.tenants t on t.id = d.tenant_id and t.deleted_at is null -- not a closed organisation
    where d.dns_next_check_at <= queue_due_domain_checks.at
    order by d.dns_next_check_at
    limit 5000
  loop
    perform app_private.queue_domain_verification(v_domain.tenant_id, v_domain.id, now(), keep_earlier => true);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;
comment on function app_private.queue_due_domain_checks(timestamptz) is 'Run every minute: queues verify_domain for each domain whose dns_next_check_at has come (at most 5,000 a minute); returns how many.';

create or replace function app_private.dns_records_fingerprint(doc jsonb) returns text
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select md5(coalesce(string_agg(concat_ws(' ', r ->> 'record_type', r ->> 'name', r ->> 'value', r ->> 'priority'), e'\n' order by i), ''))
  from jsonb_array_elements(doc -> 'records') with ordinality e(r, i);
$$;
comment on function app_private.dns_records_fingerprint(jsonb) is 'A hash of what a domain must publish (type, name, value, priority of each record): a check whose plan had another fingerprint is out of date.';

create or replace function app_private.domain_check_plan(tenant_id uuid, domain_id uuid) returns jsonb
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  -- Read before the tenant query: on Citus that query runs on a shard, where
  -- a function reading another table (system_config) is refused.
  v_spf_include text := app_private.deliverability_setting('spf_include') #>> '{}';
  v_planned_at timestamptz := statement_timestamp();
begin
  return (
  select jsonb_build_object(
    'domain', lower(d.domain::text),
    'planned_at', v_planned_at,
    'records', d.dns_records -> 'records',
    'fingerprint', app_private.dns_records_fingerprint(d.dns_records),
    'spf_include', v_spf_include,
    'sending_ips', coalesce((
      select jsonb_agg(distinct host(ip.ip_address))
      from app_public.domain_ip_assignments a
      join app_public.smtp_ip_addresses ip on ip.id = a.smtp_ip_address_id
      where a.tenant_id = d.tenant_id and a.domain_id = d.id and a.status in ('active', 'warming')
    ), '[]'::jsonb),
    -- Mail of Google and Microsoft inboxes leaves through their servers: the
    -- domain's SPF record must name them too.
    'inbox_providers', coalesce((
      select jsonb_agg(distinct ea.provider order by ea.provider)
      from app_public.email_accounts ea
      where ea.tenant_id = domain_check_plan.tenant_id and ea.domain_id = domain_check_plan.domain_id
        and ea.provider in ('google', 'microsoft') and ea.status <> 'disabled'
    ), '[]'::jsonb)
  )
  from app_public.domains d
  where d.tenant_id = domain_check_plan.tenant_id and d.id = domain_check_plan.domain_id
  );
end;
$$;
comment on function app_private.domain_check_plan(uuid, uuid) is 'What the verify_domain task checks: the domain, its records (and their fingerprint), when the check started (planned_at), the platform SPF include, the IPs sending for it (active or warming assignments) and the providers (google, microsoft) of its inboxes that are not disabled, whose SPF includes the record must also name. Null when the domain is gone.';

create or replace function app_private.dns_check_delay(domain_status text, domain_attempts integer, error_attempts integer) returns interval
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select case
    -- Verified: re-check daily; after a temporary error, soon (5 min doubling, at most hourly).
    when domain_status = 'verified' and coalesce(error_attempts, 0) = 0 then interval '24 hours'
    when domain_status = 'verified' then least(interval '5 minutes' * power(2, least(error_attempts - 1, 10)), interval '1 hour')
    -- Not verified yet: 1 minute, doubling with each attempt, at most every 6 hours.
    else least(interval '1 minute' * power(2, least(greatest(domain_attempts, 1) - 1, 12)), interval '6 hours')
  end;
$$;
comment on function app_private.dns_check_delay(text, integer, integer) is 'Backoff of DNS checks: 1, 2, 4 … minutes (at most 6 hours) while a domain is not verified; daily once verified; 5, 10 … minutes (at most hourly) after a temporary error on a verified domain.';

create or replace function app_private.check_results_problem(checks jsonb) returns text
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select case
    when jsonb_typeof(checks) is distinct from 'array' then 'checks must be a JSON array'
    else (
      select format('checks[%s]: %s', i - 1, problem)
      from jsonb_array_elements(checks) with ordinality e(c, i)
      cross join lateral (select case
        when jsonb_typeof(c) <> 'object' then 'must be an object'
        when (c ->> 'record_type') not in ('SPF', 'DKIM', 'DMARC', 'MX', 'A', 'AAAA', 'CNAME') or c ->> 'record_type' is null then 'record_type is missing or unknown'
        when jsonb_typeof(c -> 'name') is distinct from 'string' then 'name is required'
        when (c ->> 'status') is null or (c ->> 'status') not in ('verified', 'failed', 'error') then 'status must be verified, failed or error'
        when (c ->> 'status') <> 'verified' and coalesce(length(c ->> 'error'), 0) = 0 then 'a failed or errored check needs an error message'
        when c ? 'ttl' and jsonb_typeof(c -> 'ttl') not in ('null', 'number') then 'ttl must be a number or null'
        when c ? 'details' and jsonb_typeof(c -> 'details') <> 'object' then 'details must be an object'
      end as problem) p
      where p.problem is not null
      order by i
      limit 1
    )
  end;
$$;
comment on function app_private.check_results_problem(jsonb) is 'Why a verify_domain result list is malformed (null when it is fine): [{record_type, name, status, error, ttl, details}].';

-- planned_at was added later: the four-argument version must go, or calls with four arguments would be ambiguous.
drop function if exists app_private.record_domain_check(uuid, uuid, jsonb, text);
create or replace function app_private.record_domain_check(tenant_id uuid, domain_id uuid, checks jsonb, fingerprint text default null, planned_at timestamptz default null) returns app_public.domains
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  -- The check's time as a value: Citus refuses now() inside CASE and
  -- COALESCE in an UPDATE of a distributed table.
  v_checked_at timestamptz := now();
  v_checked_as_of timestamptz := coalesce(record_domain_check.planned_at, now());
  v_old app_public.domains;
  v_new app_public.domains;
  v_problem text := app_private.check_results_problem(checks);
  v_records jsonb;
  v_status text;
  v_any_failed boolean;
  v_any_error boolean;
  v_any_pending boolean;
  v_error_attempts integer;
  v_errors text;
  v_ttl integer;
  v_attempts integer;
  v_promote text;
  v_now text := to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
begin
  if v_problem is not null then
    raise exception 'Malformed DNS check results: %.', v_problem using errcode = 'INVAL';
  end if;
  select * into v_old from app_public.domains d
    where d.tenant_id = record_domain_check.tenant_id and d.id = record_domain_check.domain_id
    for update;
  if not found then
    return null;
  end if;
  -- The records changed while DNS was being asked (a key arrived, a rotation
  -- started): these results are about other values; check again now.
  if fingerprint is not null and fingerprint <> app_private.dns_records_fingerprint(v_old.dns_records) then
    perform app_private.queue_domain_verification(v_old.tenant_id, v_old.id);
    return v_old;
  end if;
  -- A newer check was recorded while this one was asking DNS: its answers are
  -- more recent than these, which are dropped.
  if planned_at is not null and planned_at < v_old.dns_checked_as_of then
    return v_old;
  end if;

  -- Each checked record: its status, attempts in that status, error and findings.
  select jsonb_agg(
    case when c.c is null then r
    else r
      || jsonb_build_object(
        'verification_status', c.c ->> 'status',
        'verification_attempts', case when r ->> 'verification_status' = c.c ->> 'status'
                                      then (r ->> 'verification_attempts')::integer + 1 else 1 end,
        'verification_error', case when c.c ->> 'status' = 'verified' then null else c.c -> 'error' end,
        'last_verified_at', case when c.c ->> 'status' = 'verified' then to_jsonb(v_now) else coalesce(r -> 'last_verified_at', 'null'::jsonb) end)
      || case r ->> 'record_type'
           when 'DMARC' then coalesce(jsonb_strip_nulls(jsonb_build_object('policy', c.c #> '{details,policy}')), '{}')
           when 'MX' then coalesce(jsonb_strip_nulls(jsonb_build_object('mx_hosts', c.c #> '{details,mx_hosts}')), '{}')
           when 'SPF' then coalesce(jsonb_strip_nulls(jsonb_build_object(
             'dns_lookups', c.c #> '{details,dns_lookups}', 'void_lookups', c.c #> '{details,void_lookups}')), '{}')
           else '{}'::jsonb
         end
    end
    order by i)
  into v_records
  from jsonb_array_elements(v_old.dns_records -> 'records') with ordinality e(r, i)
  left join lateral (
    select x as c from jsonb_array_elements(checks) x
    where x ->> 'record_type' = r ->> 'record_type' and lower(x ->> 'name') = lower(r ->> 'name')
    limit 1
  ) c on true;
  v_records := coalesce(v_records, '[]'::jsonb);

  -- A rotated DKIM key that now verifies becomes the signing key; the old
  -- record leaves the document (the tenant may delete it after a few days).
  select r ->> 'selector' into v_promote
  from jsonb_array_elements(v_records) r
  where r ->> 'record_type' = 'DKIM' and r ->> 'role' = 'next' and r ->> 'verification_status' = 'verified';
  if v_promote is not null then
    update app_private.domain_dkim_keys k set retired_at = now()
      where k.tenant_id = v_old.tenant_id and k.domain_id = v_old.id and k.selector <> v_promote and k.retired_at is null;
    select jsonb_agg(case when r ->> 'selector' = v_promote then r || '{"role": "active"}' else r end order by i)
      into v_records
      from jsonb_array_elements(v_records) with ordinality e(r, i)
      where not (r ->> 'record_type' = 'DKIM' and r ->> 'selector' is distinct from v_promote);
  end if;

  -- Roll-up over the records that count (a rotated key waiting to be
  -- published does not): failed beats error beats pending beats verified.
  select bool_or(r ->> 'verification_status' = 'failed'),
         bool_or(r ->> 'verification_status' = 'error'),
         bool_or(r ->> 'verification_status' = 'pending'),
         coalesce(max((r ->> 'verification_attempts')::integer) filter (where r ->> 'verification_status' = 'error'), 0),
         string_agg(r ->> 'verification_error', ' ' order by i) filter (where r ->> 'verification_status' in ('failed', 'error'))
    into v_any_failed, v_any_error, v_any_pending, v_error_attempts, v_errors
    from jsonb_array_elements(v_records) with ordinality e(r, i)
    where r ->> 'role' is distinct from 'next';
  v_status := case
    when coalesce(v_any_failed, false) then 'failed'
    -- A timeout or SERVFAIL says nothing about the records: a verified domain stays verified.
    when coalesce(v_any_error, false) then case when v_old.verification_status = 'verified' then 'verified' else 'error' end
    when coalesce(v_any_pending, true) then case when v_old.verification_status in ('pending', 'verifying') then v_old.verification_status else 'verifying' end
    else 'verified'
  end;
  select min((c ->> 'ttl')::integer) into v_ttl from jsonb_array_elements(checks) c where jsonb_typeof(c -> 'ttl') = 'number';

  -- Consecutive checks with the same outcome (verified or not) drive the backoff.
  v_attempts := case
    when v_old.verification_status in ('verified', 'failed', 'error') and (v_old.verification_status = 'verified') = (v_status = 'verified')
    then v_old.dns_verification_attempts + 1 else 1 end;

  update app_public.domains d set
    dns_records = jsonb_build_object('records', v_records),
    dkim_selector = coalesce(v_promote, d.dkim_selector),
    verification_status = v_status,
    verified_at = case when v_status = 'verified' then coalesce(d.verified_at, v_checked_at) end,
    dns_last_verified_at = case when v_status = 'verified' and not coalesce(v_any_error, false) then v_checked_at else d.dns_last_verified_at end,
    dns_verification_error = case
      when v_errors is null then null
      when v_status = 'verified' then 'Still verified; a temporary DNS problem will be retried: ' || v_errors
      else v_errors end,
    dns_verification_attempts = v_attempts,
    dns_ttl_observed = coalesce(v_ttl, d.dns_ttl_observed),
    dns_checked_as_of = v_checked_as_of,
    dns_next_check_at = v_checked_at + app_private.dns_check_delay(v_status, v_attempts, v_error_attempts)
    where d.tenant_id = v_old.tenant_id and d.id = v_old.id
    returning * into v_new;
  return v_new;
end;
$$;
comment on function app_private.record_domain_check(uuid, uuid, jsonb, text, timestamptz) is 'Applies what verify_domain found ([{record_type, name, status, error, ttl, details}]) to the domain (unless its records changed since the plan''s fingerprint: then it queues a new check; or a check planned later was already recorded: then nothing changes): each record''s status, attempts, error and last_verified_at, DMARC policy, MX hosts and SPF lookup counts; the domain roll-up (a temporary error never unverifies a verified domain); the promotion of a verified rotated DKIM key; and the next check time.';

--------------------------------------------------------------------------------
-- The API: verify now, rotate the DKIM key, and the records to publish.
--------------------------------------------------------------------------------

create or replace function app_public.verify_domain(domain_id uuid) returns app_public.domains
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_domain app_public.domains;
  -- The tenant as a value: Citus refuses the CASE of current_tenant_id() in an UPDATE's WHERE.
  v_tenant_id uuid := app_public.current_tenant_id();
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('domains');
  if not app_public.has_tenant_role('member') then
    raise exception 'Checking a domain''s DNS needs the member role or above in this organisation.' using errcode = 'DNIED';
  end if;
  update app_public.domains d
    set verification_status = case when d.verification_status = 'pending' and not exists (
          select 1 from jsonb_array_elements(d.dns_records -> 'records') r where r -> 'value' = 'null'::jsonb
        ) then 'verifying' else d.verification_status end
    where d.tenant_id = v_tenant_id and d.id = verify_domain.domain_id
    returning * into v_domain;
  if not found then
    raise exception 'There is no domain % in this organisation.', domain_id using errcode = 'NTFND';
  end if;
  perform app_private.queue_domain_verification(v_domain.tenant_id, v_domain.id);
  return v_domain;
end;
$$;
comment on function app_public.verify_domain(uuid) is 'Checks the domain''s DNS records now (in the background, usually within seconds): watch verificationStatus and each record''s status in dnsRecords.';

create or replace function app_public.rotate_domain_dkim_key(domain_id uuid) returns app_public.domains
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_domain app_public.domains;
  v_selector text;
  v_key app_private.dkim_key_pool;
  v_waiting text;
  v_tenant_id uuid;
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('domains');
  if not app_public.has_tenant_role('admin') then
    raise exception 'Rotating a domain''s DKIM key needs the admin or owner role.' using errcode = 'DNIED';
  end if;
  -- The tenant as a value, so that on Citus the locking query names it.
  v_tenant_id := app_public.current_tenant_id();
  select * into v_domain from app_public.domains d
    where d.tenant_id = v_tenant_id and d.id = rotate_domain_dkim_key.domain_id
    for update;
  if not found then
    raise exception 'There is no domain % in this organisation.', domain_id using errcode = 'NTFND';
  end if;
  select r ->> 'name' into v_waiting from jsonb_array_elements(v_domain.dns_records -> 'records') r
    where r ->> 'record_type' = 'DKIM' and (r ->> 'role' = 'next' or r -> 'public_key' = 'null'::jsonb)
    limit 1;
  if v_waiting is not null then
    raise exception 'A new DKIM key (%.%) is still waiting to be published and verified; publish it before rotating again.', v_waiting, v_domain.domain
      using errcode = 'STATE';
  end if;
  v_selector := left(regexp_replace(v_domain.dkim_selector, '-[0-9]{14}$', ''), 48) || '-' || to_char(now() at time zone 'UTC', 'YYYYMMDDHH24MISS');
  if exists (select 1 from app_private.domain_dkim_keys k where k.tenant_id = v_domain.tenant_id and k.domain_id = v_domain.id and k.selector = v_selector) then
    raise exception 'The DKIM key of % was rotated a moment ago; try again in a second.', v_domain.domain using errcode = 'STATE';
  end if;

  v_key := app_private.take_dkim_key(v_domain.tenant_id, v_domain.id);
  if v_key.id is not null then
    delete from app_private.dkim_key_pool p where p.id = v_key.id;
    insert into app_private.domain_dkim_keys (tenant_id, domain_id, selector, private_key_encrypted, public_key, key_bits)
      values (v_domain.tenant_id, v_domain.id, v_selector, v_key.private_key_encrypted, v_key.public_key, v_key.key_bits);
  else
    perform app_private.add_job(v_domain.tenant_id, 'generate_dkim_key',
      json_build_object('tenant_id', v_domain.tenant_id, 'domain_id', v_domain.id, 'selector', v_selector),
      job_key => 'generate_dkim_key:' || v_domain.id || ':' || v_selector, max_attempts => 10);
  end if;
  update app_public.domains d
    set dns_records = jsonb_set(d.dns_records, '{records}',
      (d.dns_records -> 'records') || jsonb_build_array(app_private.dkim_record(d.id, v_selector, v_key.public_key, 'next')))
    where d.tenant_id = v_domain.tenant_id and d.id = v_domain.id
    returning * into v_domain;
  if v_key.id is not null then
    perform app_private.queue_domain_verification(v_domain.tenant_id, v_domain.id);
  end if;
  return v_domain;
end;
$$;
comment on function app_public.rotate_domain_dkim_key(uuid) is 'Starts a DKIM key rotation (admins and owners): a new key under a new selector is added to dnsRecords with role "next". Mail stays signed with the current key until the new record is published and verifies; then the new key signs and the old record may be removed.';

-- Immutable: a function of its row alone. (Security definer: it calls
-- app_private helpers, which API roles cannot.)
create or replace function app_public.domains_records_to_publish(domain app_public.domains) returns app_public.dns_record_to_publish[]
  language sql immutable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(row(
    r ->> 'record_type',
    app_private.record_fqdn(r ->> 'name', domain.domain::text),
    case when r ->> 'record_type' in ('SPF', 'DKIM', 'DMARC') then 'TXT' else r ->> 'record_type' end,
    r ->> 'value',
    case when r ->> 'record_type' in ('SPF', 'DKIM', 'DMARC') and r ->> 'value' is not null then (
      select string_agg('"' || substr(r ->> 'value', 1 + 255 * (g - 1), 255) || '"', ' ' order by g)
      from generate_series(1, greatest(1, ceil(length(r ->> 'value') / 255.0)::integer)) g
    ) else r ->> 'value' end,
    (r ->> 'ttl')::integer,
    (r ->> 'priority')::integer,
    r ->> 'verification_status',
    r ->> 'verification_error'
  )::app_public.dns_record_to_publish order by i), '{}')
  from jsonb_array_elements(domain.dns_records -> 'records') with ordinality e(r, i);
$$;
comment on function app_public.domains_records_to_publish(app_public.domains) is 'The records to enter at your DNS provider, with full host names. zoneValue splits long TXT values into quoted 255-character strings (one record, several strings), as zone files and some providers need; a DKIM value is null for the second or so its key takes to generate.';
