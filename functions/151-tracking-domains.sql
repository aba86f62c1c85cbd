--------------------------------------------------------------------------------
-- Custom tracking domains (plans.white_label). An organisation adds a host of
-- its own (addTrackingDomain), publishes it as a CNAME to the platform's
-- tracking host, and the verify_tracking_domain task checks the CNAME through
-- the deliverability resolver (workers/deliverability/verify-tracking-domain.ts),
-- handing what it found to record_tracking_domain_check, which owns the
-- status, the platform-wide claim of the host and the next check time.
--
-- While the host is verified and the plan includes white_label, render_context
-- (functions/140) hands it to the renderer: tracking links use it instead of
-- PUBLIC_URL's host. GET /tls/allowed?domain=<host> (src/tracking/tls-allowed.ts)
-- asks tls_allowed whether a reverse proxy may get a certificate for it.
--------------------------------------------------------------------------------

create or replace function app_private.queue_tracking_domain_check(tenant_id uuid, tracking_domain_id uuid, run_at timestamptz default now(), keep_earlier boolean default false) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.add_job(tenant_id, 'verify_tracking_domain',
    json_build_object('tenant_id', tenant_id, 'tracking_domain_id', tracking_domain_id),
    run_at => run_at,
    job_key => 'verify_tracking_domain:' || tracking_domain_id,
    job_key_mode => case when keep_earlier then 'preserve_run_at' else 'replace' end,
    max_attempts => 5);
end;
$$;
comment on function app_private.queue_tracking_domain_check(uuid, uuid, timestamptz, boolean) is 'Queues one verify_tracking_domain job per tracking domain (job_key): replace moves a queued check to run_at, keep_earlier leaves an already queued check where it is.';

create or replace function app_private.queue_due_tracking_domain_checks(at timestamptz default now()) returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_domain record;
  v_count integer := 0;
begin
  for v_domain in
    select d.tenant_id, d.id from app_public.tracking_domains d
    join app_public.tenants t on t.id = d.tenant_id and t.deleted_at is null -- not a closed organisation
    where d.next_check_at <= queue_due_tracking_domain_checks.at
    order by d.next_check_at
    limit 5000
  loop
    perform app_private.queue_tracking_domain_check(v_domain.tenant_id, v_domain.id, now(), keep_earlier => true);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;
comment on function app_private.queue_due_tracking_domain_checks(timestamptz) is 'Run every minute by domain_verification_sweep: queues verify_tracking_domain for each tracking domain whose next_check_at has come (at most 5,000 a minute); returns how many.';

create or replace function app_private.tracking_domain_check_plan(tenant_id uuid, tracking_domain_id uuid) returns jsonb
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_planned_at timestamptz := statement_timestamp();
begin
  return (
    select jsonb_build_object('hostname', d.hostname, 'planned_at', v_planned_at)
    from app_public.tracking_domains d
    where d.tenant_id = tracking_domain_check_plan.tenant_id and d.id = tracking_domain_check_plan.tracking_domain_id
  );
end;
$$;
comment on function app_private.tracking_domain_check_plan(uuid, uuid) is 'What verify_tracking_domain checks: the host name and when the check started (planned_at). Null when the tracking domain is gone.';

create or replace function app_private.tracking_domain_claim_is_live(hostname text) returns boolean
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_claim app_private.tracking_domain_claims;
begin
  select c.* into v_claim from app_private.tracking_domain_claims c where c.hostname = tracking_domain_claim_is_live.hostname;
  if v_claim.hostname is null then
    return false;
  end if;
  -- The claimer's row, looked up by its tenant (one shard on Citus).
  return exists (
    select 1 from app_public.tracking_domains d
    where d.tenant_id = v_claim.tenant_id and d.id = v_claim.tracking_domain_id
      and d.hostname = v_claim.hostname and d.status = 'verified');
end;
$$;
comment on function app_private.tracking_domain_claim_is_live(text) is 'Whether the host is claimed by a tracking domain that still exists and is verified (a claim left by a removed or failed domain is stale).';

create or replace function app_private.tracking_host_parent(tenant_id uuid, hostname text) returns text
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_parent text;
begin
  select d.domain into v_parent from app_public.domains d
    where d.tenant_id = tracking_host_parent.tenant_id and d.verification_status = 'verified'
      and right(tracking_host_parent.hostname, length(d.domain) + 1) = '.' || d.domain
    order by length(d.domain) desc
    limit 1;
  return v_parent;
end;
$$;
comment on function app_private.tracking_host_parent(uuid, text) is 'The organisation''s verified sending domain the host is a subdomain of (the longest), or null. A CNAME only proves that someone pointed the host at the platform; a host under a domain the organisation verified is one it controls, so nobody can claim another''s host.';

create or replace function app_private.record_tracking_domain_check(
  tenant_id uuid,
  tracking_domain_id uuid,
  outcome text,
  error text,
  expected_target text,
  planned_at timestamptz default null
) returns app_public.tracking_domains
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  -- Values, not calls: Citus refuses now() inside CASE in an UPDATE of a distributed table.
  v_now timestamptz := now();
  v_as_of timestamptz := coalesce(record_tracking_domain_check.planned_at, now());
  v_old app_public.tracking_domains;
  v_new app_public.tracking_domains;
  v_status text;
  v_error text := record_tracking_domain_check.error;
  v_attempts integer;
  v_delay interval;
  v_verified_at timestamptz;
  v_claimed_by uuid;
  v_expected text;
begin
  if outcome is null or outcome not in ('verified', 'failed', 'error') then
    raise exception 'Malformed tracking domain check: outcome must be verified, failed or error.' using errcode = 'INVAL';
  end if;
  if outcome <> 'verified' and coalesce(length(error), 0) = 0 then
    raise exception 'Malformed tracking domain check: a failed or errored check needs an error message.' using errcode = 'INVAL';
  end if;
  select d.* into v_old from app_public.tracking_domains d
    where d.tenant_id = record_tracking_domain_check.tenant_id and d.id = record_tracking_domain_check.tracking_domain_id
    for update;
  if not found then
    return null;
  end if;
  -- A newer check was recorded while this one asked DNS: its answer stands.
  if planned_at is not null and planned_at < v_old.checked_as_of then
    return v_old;
  end if;

  v_expected := coalesce(record_tracking_domain_check.expected_target, v_old.expected_target);
  v_status := case outcome
    -- A timeout or SERVFAIL says nothing about the record: the status stays.
    when 'error' then v_old.status
    else outcome
  end;

  if v_status = 'verified' and app_private.tracking_host_parent(v_old.tenant_id, v_old.hostname) is null then
    -- The sending domain it belongs to was removed or no longer verifies.
    v_status := 'failed';
    v_error := format('%s is not under a verified sending domain of this organisation; verify that domain first.', v_old.hostname);
  end if;

  if v_status = 'verified' and outcome = 'verified' then
    -- The host's one claim, platform-wide, serialised per host name by an
    -- advisory lock held until commit (the primary key refuses a second claim
    -- in any case).
    perform pg_advisory_xact_lock(hashtextextended('tracking_domain_claim:' || v_old.hostname, 0));
    select c.tenant_id into v_claimed_by from app_private.tracking_domain_claims c where c.hostname = v_old.hostname;
    if v_claimed_by is null then
      insert into app_private.tracking_domain_claims (hostname, tenant_id, tracking_domain_id)
        values (v_old.hostname, v_old.tenant_id, v_old.id);
    elsif v_claimed_by = v_old.tenant_id then
      update app_private.tracking_domain_claims c set tracking_domain_id = v_old.id, updated = v_now
        where c.hostname = v_old.hostname;
    elsif app_private.tracking_domain_claim_is_live(v_old.hostname) then
      v_status := 'failed';
      v_error := format('%s is already the verified tracking domain of another organisation; a host can serve one organisation only.', v_old.hostname);
    else
      update app_private.tracking_domain_claims c
        set tenant_id = v_old.tenant_id, tracking_domain_id = v_old.id, updated = v_now
        where c.hostname = v_old.hostname;
    end if;
  elsif v_status = 'failed' then
    -- A host that no longer verifies frees its name.
    delete from app_private.tracking_domain_claims c
      where c.hostname = v_old.hostname and c.tenant_id = v_old.tenant_id and c.tracking_domain_id = v_old.id;
  end if;

  v_attempts := case when (v_old.status = 'verified') = (v_status = 'verified') and v_old.last_checked_at is not null
    then v_old.check_attempts + 1 else 1 end;
  v_delay := app_private.dns_check_delay(v_status, v_attempts, case when outcome = 'error' then v_attempts else 0 end);
  v_verified_at := case when v_status <> 'verified' then null
                        when v_old.status = 'verified' then v_old.verified_at
                        else v_now end;
  if outcome = 'error' and v_status = 'verified' then
    v_error := 'Still verified; a temporary DNS problem will be retried: ' || v_error;
  end if;

  update app_public.tracking_domains d set
    status = v_status,
    verified_at = v_verified_at,
    expected_target = v_expected,
    last_checked_at = v_now,
    last_error = v_error,
    check_attempts = v_attempts,
    checked_as_of = v_as_of,
    next_check_at = v_now + v_delay
    where d.tenant_id = v_old.tenant_id and d.id = v_old.id
    returning d.* into v_new;
  return v_new;
end;
$$;
comment on function app_private.record_tracking_domain_check(uuid, uuid, text, text, text, timestamptz) is 'Applies what verify_tracking_domain found (outcome verified, failed or error, with the error message and the CNAME target it expected) to a tracking domain: verified claims the host platform-wide (failed, naming the reason, when another organisation''s verified domain holds it); failed frees the claim; a temporary error changes no status. Sets the next check (dns_check_delay backoff). A check planned before the last recorded one is ignored. Null when the tracking domain is gone.';

--------------------------------------------------------------------------------
-- Which host tracking links use, and which hosts may get a certificate.
--------------------------------------------------------------------------------

create or replace function app_hidden.tracking_host(tenant_id uuid) returns text
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_plan app_public.plans := app_private.current_plan_of(tracking_host.tenant_id);
begin
  if not coalesce(v_plan.white_label, false) then
    return null;
  end if;
  return (
    select d.hostname from app_public.tracking_domains d
    where d.tenant_id = tracking_host.tenant_id and d.status = 'verified'
    limit 1
  );
end;
$$;
comment on function app_hidden.tracking_host(uuid) is 'The host the tracking links of an organisation''s mail use instead of PUBLIC_URL''s: its verified tracking domain while its plan includes white_label; null otherwise (then links use PUBLIC_URL).';

create or replace function app_private.tls_allowed(hostname text) returns boolean
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_host text := lower(rtrim(btrim(coalesce(tls_allowed.hostname, '')), '.'));
  v_claim app_private.tracking_domain_claims;
  v_plan app_public.plans;
begin
  select c.* into v_claim from app_private.tracking_domain_claims c where c.hostname = v_host;
  if v_claim.hostname is null or not app_private.tracking_domain_claim_is_live(v_host) then
    return false;
  end if;
  v_plan := app_private.current_plan_of(v_claim.tenant_id);
  return coalesce(v_plan.white_label, false) and exists (
    select 1 from app_public.tenants t where t.id = v_claim.tenant_id and t.deleted_at is null);
end;
$$;
comment on function app_private.tls_allowed(text) is 'Whether a reverse proxy may obtain a TLS certificate for this host (GET /tls/allowed, Caddy''s on_demand_tls ask): true only for the verified tracking domain of an open organisation whose plan includes white_label.';

--------------------------------------------------------------------------------
-- The API: add (owners and admins, plan with white_label), check again.
-- Removing is deleteTrackingDomain (the table's delete policy: owners and
-- admins); its claim then goes stale and frees the host.
--------------------------------------------------------------------------------

create or replace function app_public.add_tracking_domain(hostname text) returns app_public.tracking_domains
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_host text := lower(rtrim(btrim(coalesce(add_tracking_domain.hostname, '')), '.'));
  v_plan app_public.plans;
  v_existing text;
  v_row app_public.tracking_domains;
  v_id uuid := gen_random_uuid();
  v_now timestamptz := now();
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('domains');
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Adding a tracking domain needs the admin or owner role in this organisation.' using errcode = 'DNIED';
  end if;
  v_plan := app_private.current_plan_of(v_tenant_id);
  if not coalesce(v_plan.white_label, false) then
    raise exception 'Your plan (%) does not include a custom tracking domain (white label); upgrade to use one.', v_plan.name using errcode = 'LIMIT';
  end if;
  if length(v_host) > 253 or v_host !~ '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$' then
    raise exception '"%" is not a host name; give a full DNS name such as track.example.com.', add_tracking_domain.hostname using errcode = 'INVAL';
  end if;
  if app_private.tracking_host_parent(v_tenant_id, v_host) is null then
    raise exception '% is not under one of this organisation''s verified sending domains; use a subdomain of one (such as track.<your domain>), or verify its domain first.', v_host using errcode = 'INVAL';
  end if;
  select d.hostname into v_existing from app_public.tracking_domains d where d.tenant_id = v_tenant_id;
  if v_existing is not null then
    raise exception 'This organisation already has a tracking domain (%); remove it before adding another.', v_existing using errcode = 'STATE';
  end if;
  if app_private.tracking_domain_claim_is_live(v_host) then
    raise exception '% is already the verified tracking domain of another organisation.', v_host using errcode = 'TAKEN';
  end if;
  insert into app_public.tracking_domains (tenant_id, id, hostname, status, next_check_at)
    values (v_tenant_id, v_id, v_host, 'pending', v_now)
    returning * into v_row;
  perform app_private.queue_tracking_domain_check(v_tenant_id, v_id);
  return v_row;
end;
$$;
comment on function app_public.add_tracking_domain(text) is 'Adds the organisation''s custom tracking domain (owners and admins; the plan must include white label; one per organisation; a subdomain of one of its verified sending domains): publish the host as a CNAME to the platform''s tracking host. It is checked at once (in the background, usually within seconds), then periodically; watch status and lastError. While it is verified, tracking links in your mail use it.';

create or replace function app_public.verify_tracking_domain(tracking_domain_id uuid) returns app_public.tracking_domains
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_row app_public.tracking_domains;
begin
  perform app_hidden.require_api_scope('domains');
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Checking a tracking domain needs the admin or owner role in this organisation.' using errcode = 'DNIED';
  end if;
  select d.* into v_row from app_public.tracking_domains d
    where d.tenant_id = v_tenant_id and d.id = verify_tracking_domain.tracking_domain_id;
  if not found then
    raise exception 'There is no tracking domain % in this organisation.', tracking_domain_id using errcode = 'NTFND';
  end if;
  perform app_private.queue_tracking_domain_check(v_row.tenant_id, v_row.id);
  return v_row;
end;
$$;
comment on function app_public.verify_tracking_domain(uuid) is 'Checks the tracking domain''s CNAME now (in the background, usually within seconds): watch status and lastError.';
