--------------------------------------------------------------------------------
-- The IP pool on the send path. A platform inbox (provider 'mailu') whose
-- domain has active or warming IP assignments sends through those IPs: when
-- book_email_send (functions/120) books a message, it takes one unit of an
-- IP's daily allowance (ip_allowance: warm-up ramp, daily_limit) and records
-- the IP on the message; the worker opens the SMTP connection from that
-- address. Third-party inboxes (smtp, google, microsoft) and domains without
-- such assignments are outside the pool.
--
-- The count is smtp_ip_addresses.daily_count for the UTC day in
-- daily_count_date (a stale day counts as zero; reset_daily_counts also
-- clears it). One UPDATE per booking takes the unit under the IP's row lock
-- with the allowance as its condition, so two workers never both take an
-- IP's last unit: the second one's condition fails and it tries the next IP.
--------------------------------------------------------------------------------

create or replace function app_private.ip_sends(status text, reputation_state text) returns boolean
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select status in ('assigned', 'warming', 'warmed', 'degraded') and reputation_state in ('good', 'fair');
$$;
comment on function app_private.ip_sends(text, text) is 'Whether an IP in this status and reputation may carry mail: not available (unassigned), quarantined or burned, and not poor or critical (listed on a blocklist).';

create or replace function app_private.reserve_sending_ip(
  tenant_id uuid,
  domain_id uuid,
  now_at timestamptz,
  kept_ip_id uuid,
  out smtp_ip_address_id uuid,
  out retry_at timestamptz,
  out wait_reason text
)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_day date := app_private.local_day(now_at, 'UTC');
  v_ip record;
  v_members integer := 0;
  v_full text;
  v_down text;
  v_taken uuid;
begin
  -- The domain's IPs: least used today first, then the one that sent least
  -- recently, so a domain's mail rotates over its IPs.
  for v_ip in
    select ip.id, host(ip.ip_address) as address, ip.status, ip.reputation_state,
           app_private.ip_allowance(ip.status, ip.daily_limit, ip.warmup_started_at, reserve_sending_ip.now_at) as allowance,
           case when ip.daily_count_date = v_day then ip.daily_count else 0 end as used
    from app_public.domain_ip_assignments a
    join app_public.smtp_ip_addresses ip on ip.id = a.smtp_ip_address_id
    where a.tenant_id = reserve_sending_ip.tenant_id and a.domain_id = reserve_sending_ip.domain_id
      and a.status in ('active', 'warming')
    order by ip.id is distinct from reserve_sending_ip.kept_ip_id,
             case when ip.daily_count_date = v_day then ip.daily_count else 0 end,
             a.last_sent_at nulls first, ip.ip_address
  loop
    v_members := v_members + 1;
    if not app_private.ip_sends(v_ip.status, v_ip.reputation_state) then
      v_down := concat_ws(', ', v_down, format('%s is %s', v_ip.address,
        case when v_ip.status in ('quarantined', 'burned', 'available') then v_ip.status else 'listed (' || v_ip.reputation_state || ' reputation)' end));
      continue;
    end if;
    -- A message re-booked on the same UTC day keeps its IP (already counted).
    if v_ip.id = kept_ip_id then
      smtp_ip_address_id := v_ip.id;
      return;
    end if;
    if v_ip.allowance is not null and v_ip.used >= v_ip.allowance then
      v_full := concat_ws(', ', v_full, format('%s %s of %s', v_ip.address, v_ip.used, v_ip.allowance));
      continue;
    end if;
    update app_public.smtp_ip_addresses ip
      set daily_count = case when ip.daily_count_date = v_day then ip.daily_count else 0 end + 1,
          daily_count_date = v_day
      where ip.id = v_ip.id and ip.status = v_ip.status
        and (v_ip.allowance is null or ip.daily_count_date is distinct from v_day or ip.daily_count < v_ip.allowance)
      returning ip.id into v_taken;
    if v_taken is not null then
      smtp_ip_address_id := v_taken;
      return;
    end if;
    -- Another booking took its last unit (or its status changed) meanwhile.
    if v_ip.allowance is null then
      v_down := concat_ws(', ', v_down, format('%s changed status', v_ip.address));
    else
      v_full := concat_ws(', ', v_full, format('%s at its allowance of %s', v_ip.address, v_ip.allowance));
    end if;
  end loop;
  if v_members = 0 then
    -- Outside the pool: no IP, no wait.
    return;
  end if;
  if v_full is not null then
    retry_at := (v_day + 1)::timestamp at time zone 'UTC';
    wait_reason := format('every sending IP of the domain reached its daily allowance (%s)%s', v_full,
      case when v_down is not null then format('; %s', v_down) else '' end);
  else
    retry_at := now_at + interval '1 hour';
    wait_reason := format('no sending IP of the domain can send (%s)', v_down);
  end if;
end;
$$;
comment on function app_private.reserve_sending_ip(uuid, uuid, timestamptz, uuid) is 'Takes one unit of the daily allowance (UTC day of now_at) of one of the domain''s active or warming IPs, least used today first, skipping quarantined, burned or blocklisted IPs and IPs at their allowance, and returns it. kept_ip_id: an IP the message already counted on today, kept while it may send. When the domain has no such assignments, returns nulls (outside the pool); when none of its IPs can take the message, returns when to try again and why (next UTC midnight for allowances, an hour for IPs that cannot send).';

create or replace function app_private.message_ip_sends(tenant_id uuid, email_account_id uuid, smtp_ip_address_id uuid) returns boolean
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  if smtp_ip_address_id is null then
    return true;
  end if;
  return exists (
    select 1
    from app_public.email_accounts ea
    join app_public.domain_ip_assignments a on a.tenant_id = ea.tenant_id and a.domain_id = ea.domain_id
    join app_public.smtp_ip_addresses ip on ip.id = a.smtp_ip_address_id
    where ea.tenant_id = message_ip_sends.tenant_id and ea.id = message_ip_sends.email_account_id
      and a.tenant_id = message_ip_sends.tenant_id and a.smtp_ip_address_id = message_ip_sends.smtp_ip_address_id
      and a.status in ('active', 'warming')
      and app_private.ip_sends(ip.status, ip.reputation_state));
end;
$$;
comment on function app_private.message_ip_sends(uuid, uuid, uuid) is 'Whether a message booked on this IP (null: outside the pool) may still leave from it: false once the IP was quarantined, burned or blocklisted, or no longer sends for the inbox''s domain, so the message is booked again.';

create or replace function app_private.record_ip_send(tenant_id uuid, email_account_id uuid, smtp_ip_address_id uuid, at timestamptz) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  if smtp_ip_address_id is null then
    return;
  end if;
  update app_public.domain_ip_assignments a set last_sent_at = record_ip_send.at
    from app_public.email_accounts ea
    where ea.tenant_id = record_ip_send.tenant_id and ea.id = record_ip_send.email_account_id
      and a.tenant_id = record_ip_send.tenant_id and a.domain_id = ea.domain_id
      and a.smtp_ip_address_id = record_ip_send.smtp_ip_address_id and a.status <> 'expired';
end;
$$;
comment on function app_private.record_ip_send(uuid, uuid, uuid, timestamptz) is 'After a message left from a pool IP: the domain''s assignment of that IP records when it last sent (domain_ip_assignments.last_sent_at). Nothing for mail outside the pool.';

create or replace function app_private.domain_ip_room(tenant_id uuid, domain_id uuid, at timestamptz) returns bigint
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_day date := app_private.local_day(at, 'UTC');
begin
  -- Every table named with the tenant as a value: it also runs inside the
  -- shard query of campaign_schedule on Citus.
  return (
    select case when count(*) > 0 then coalesce(sum(
             case when not app_private.ip_sends(ip.status, ip.reputation_state) then 0
                  else greatest(coalesce(app_private.ip_allowance(ip.status, ip.daily_limit, ip.warmup_started_at, domain_ip_room.at),
                                         app_private.ip_warmup_target())
                                - case when ip.daily_count_date = v_day then ip.daily_count else 0 end, 0) end), 0) end
    from app_public.domain_ip_assignments a
    join app_public.smtp_ip_addresses ip on ip.id = a.smtp_ip_address_id
    where a.tenant_id = domain_ip_room.tenant_id and a.domain_id = domain_ip_room.domain_id
      and a.status in ('active', 'warming')
  );
end;
$$;
comment on function app_private.domain_ip_room(uuid, uuid, timestamptz) is 'How many more messages the domain''s pool IPs may carry on the UTC day of `at` (IPs that cannot send count zero, an IP without a cap counts ip_warmup_target); null when the domain has no active or warming IP assignment (outside the pool).';
