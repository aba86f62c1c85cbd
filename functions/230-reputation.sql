--------------------------------------------------------------------------------
-- IP reputation from DNS blocklists. The check_ip_reputation task looks each
-- IP up in the configured zones (reversed octets, e.g. 4.3.2.1.zen.example;
-- an answer in 127.0.0.0/8 means listed) and hands its findings here: the
-- per-zone status, the reputation state, and the lifecycle consequences (a
-- listed IP is quarantined and its domains move; once every zone has delisted
-- it, an IP the check quarantined returns to the pool).
--------------------------------------------------------------------------------

create or replace function app_private.queue_reputation_checks() returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ip record;
  v_count integer := 0;
begin
  for v_ip in select ip.id from app_public.smtp_ip_addresses ip where ip.status <> 'burned' order by ip.last_reputation_check_at nulls first loop
    perform app_private.add_job(null, 'check_ip_reputation', json_build_object('smtp_ip_address_id', v_ip.id),
      job_key => 'check_ip_reputation:' || v_ip.id, job_key_mode => 'preserve_run_at', max_attempts => 3);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;
comment on function app_private.queue_reputation_checks() is 'Run hourly: queues one blocklist check per IP that is not burned (retired); returns how many.';

create or replace function app_private.reputation_results_problem(results jsonb) returns text
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select case
    when jsonb_typeof(results) is distinct from 'array' then 'results must be a JSON array'
    else (
      select format('results[%s]: %s', i - 1, problem)
      from jsonb_array_elements(results) with ordinality e(r, i)
      cross join lateral (select case
        when jsonb_typeof(r) <> 'object' then 'must be an object'
        when coalesce(r ->> 'zone', '') !~ '^[A-Za-z0-9.-]+$' then 'zone must be a DNS zone name'
        when jsonb_typeof(r -> 'listed') not in ('boolean', 'null') or r -> 'listed' is null then 'listed must be true, false or null (lookup failed)'
        when r -> 'listed' = 'null'::jsonb and coalesce(length(r ->> 'error'), 0) = 0 then 'a failed lookup needs an error message'
        when r ? 'return_codes' and jsonb_typeof(r -> 'return_codes') <> 'array' then 'return_codes must be a list'
      end as problem) p
      where p.problem is not null
      order by i
      limit 1
    )
  end;
$$;
comment on function app_private.reputation_results_problem(jsonb) is 'Why a check_ip_reputation result list is malformed (null when fine): [{zone, listed, return_codes, reason, error}].';

create or replace function app_private.record_ip_reputation(smtp_ip_address_id uuid, results jsonb) returns app_public.smtp_ip_addresses
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ip app_public.smtp_ip_addresses;
  v_problem text := app_private.reputation_results_problem(results);
  v_status jsonb;
  v_listed text;
  v_listed_count integer;
  v_errors integer;
  v_recent boolean;
  v_now text := to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
begin
  if v_problem is not null then
    raise exception 'Malformed blocklist results: %.', v_problem using errcode = 'INVAL';
  end if;
  select * into v_ip from app_public.smtp_ip_addresses ip where ip.id = record_ip_reputation.smtp_ip_address_id for update;
  if not found then
    return null;
  end if;

  -- One entry per configured zone; a failed lookup keeps the zone's last answer.
  select coalesce(jsonb_object_agg(r ->> 'zone',
    case when r -> 'listed' = 'null'::jsonb then
      coalesce(v_ip.provider_blacklist_status -> (r ->> 'zone'), '{"listed": false}'::jsonb)
        || jsonb_build_object('error', r ->> 'error', 'error_at', v_now)
    else jsonb_strip_nulls(jsonb_build_object(
      'listed', r -> 'listed',
      'return_codes', case when (r ->> 'listed')::boolean then coalesce(r -> 'return_codes', '[]'::jsonb) end,
      'return_code', case when (r ->> 'listed')::boolean then r #> '{return_codes,0}' end,
      'reason', case when (r ->> 'listed')::boolean then r -> 'reason' end,
      'checked_at', to_jsonb(v_now),
      'last_listed_at', case when (r ->> 'listed')::boolean then to_jsonb(v_now)
                             else v_ip.provider_blacklist_status #> array[r ->> 'zone', 'last_listed_at'] end))
    end), '{}'::jsonb)
  into v_status
  from jsonb_array_elements(results) r;

  select string_agg(format('%s (%s)', z.key, coalesce(z.value ->> 'return_code', 'listed')), ', ' order by z.key) filter (where (z.value ->> 'listed')::boolean),
         count(*) filter (where (z.value ->> 'listed')::boolean),
         count(*) filter (where z.value ? 'error'),
         bool_or((z.value ->> 'last_listed_at')::timestamptz > now() - interval '30 days')
    into v_listed, v_listed_count, v_errors, v_recent
    from jsonb_each(v_status) z;

  update app_public.smtp_ip_addresses ip
    set provider_blacklist_status = v_status,
        last_reputation_check_at = now(),
        reputation_state = case
          when v_listed_count >= 2 then 'critical'
          when v_listed_count = 1 then 'poor'
          when coalesce(v_recent, false) then 'fair'
          else 'good' end
    where ip.id = v_ip.id;

  if v_listed_count > 0 and v_ip.status not in ('quarantined', 'burned') then
    perform app_private.change_smtp_ip_status(v_ip.id, 'quarantined', 'Listed on ' || v_listed, true);
  elsif v_listed_count = 0 and v_errors = 0 and v_ip.status = 'quarantined' and v_ip.auto_quarantined then
    perform app_private.change_smtp_ip_status(v_ip.id, 'available',
      format('Delisted by every blocklist checked (%s)', (select string_agg(k, ', ' order by k) from jsonb_object_keys(v_status) k)), true);
  end if;
  select * into v_ip from app_public.smtp_ip_addresses ip where ip.id = v_ip.id;
  return v_ip;
end;
$$;
comment on function app_private.record_ip_reputation(uuid, jsonb) is 'Applies a blocklist check to an IP: provider_blacklist_status per zone (listed, return codes, reason, checked_at, last_listed_at; a failed lookup keeps the last answer), reputation_state (2+ listings critical, 1 poor, delisted within 30 days fair, else good), last_reputation_check_at; quarantines a listed IP (moving its domains) and releases an IP it had quarantined once every zone delisted it.';
