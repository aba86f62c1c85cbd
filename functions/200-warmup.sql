--------------------------------------------------------------------------------
-- Warm-up: how many messages an inbox (and a sending IP) may send today. A new
-- inbox ramps up day by day until it reaches its configured daily_limit; days
-- are counted in the inbox's own time zone. daily_count resets at local
-- midnight (app_private.reset_daily_counts, run by the warmup_tick task; the
-- sending engine also resets lazily when the stored day is stale).
--------------------------------------------------------------------------------

-- Immutable (as timezone(text, timestamptz) is): Citus refuses a stable
-- function taking a column in a multi-row UPDATE (reset_daily_counts).
create or replace function app_private.local_day(at timestamptz, timezone text) returns date
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select (at at time zone coalesce(nullif(timezone, ''), 'UTC'))::date;
$$;
comment on function app_private.local_day(timestamptz, text) is 'The calendar day of an instant in a time zone.';

create or replace function app_private.warmup_ramp(day_number integer) returns integer
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  -- 10 messages on day 0, then 20 % more each day (rounded up): 10, 12, 15,
  -- 18, 21, 25, 30, 36, 43, 52 … so the default cap of 50 is reached on day 9
  -- and the table's maximum of 10,000 by day 38.
  select least(10000, ceil(10 * power(1.2::numeric, least(greatest(day_number, 0), 60))))::integer;
$$;
comment on function app_private.warmup_ramp(integer) is 'Messages an inbox may send on the n-th day of its warm-up (day 0 is the first day): 10, then 20 % more each day.';

create or replace function app_private.inbox_allowance(warmup_enabled boolean, warmup_started_at timestamptz, daily_limit integer, timezone text, at timestamptz) returns integer
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select case
    when not warmup_enabled or warmup_started_at is null then daily_limit
    else least(daily_limit, app_private.warmup_ramp(app_private.local_day(at, timezone) - app_private.local_day(warmup_started_at, timezone)))
  end;
$$;
comment on function app_private.inbox_allowance(boolean, timestamptz, integer, text, timestamptz) is 'The warm-up formula: an inbox''s daily_limit, capped by the ramp of its warm-up day (counted in its time zone) while warming up.';

create or replace function app_private.inbox_daily_allowance(tenant_id uuid, email_account_id uuid, at timestamptz default now()) returns integer
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return (
  select app_private.inbox_allowance(ea.warmup_enabled, ea.warmup_started_at, ea.daily_limit, ea.timezone, inbox_daily_allowance.at)
  from app_public.email_accounts ea
  where ea.tenant_id = inbox_daily_allowance.tenant_id and ea.id = inbox_daily_allowance.email_account_id
  );
end;
$$;
comment on function app_private.inbox_daily_allowance(uuid, uuid, timestamptz) is 'How many messages the inbox may send on the local day of `at`: its daily_limit, or less while warming up.';

create or replace function app_public.email_accounts_daily_allowance(account app_public.email_accounts) returns integer
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.inbox_allowance(account.warmup_enabled, account.warmup_started_at, account.daily_limit, account.timezone, now());
$$;
comment on function app_public.email_accounts_daily_allowance(app_public.email_accounts) is 'How many messages this inbox may send today (its local day): its daily limit, or less while it is warming up.';

create or replace function app_public.email_accounts_warmup_day(account app_public.email_accounts) returns integer
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select case when account.warmup_enabled and account.warmup_started_at is not null then
    greatest(app_private.local_day(now(), account.timezone) - app_private.local_day(account.warmup_started_at, account.timezone), 0)
  end;
$$;
comment on function app_public.email_accounts_warmup_day(app_public.email_accounts) is 'Which day of its warm-up this inbox is on today (0 = the day it started); null when it is not warming up.';

--------------------------------------------------------------------------------
-- Sending IPs ramp faster (dedicated infrastructure, many domains): 50
-- messages on day 0, doubling every day, until the IP's daily_limit (or
-- ip_warmup_target when it has none) is reached; then the IP is warmed
-- (app_private.complete_ip_warmups).
--------------------------------------------------------------------------------

create or replace function app_private.ip_warmup_ramp(day_number integer) returns bigint
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select (50 * power(2::numeric, least(greatest(day_number, 0), 30)))::bigint;
$$;
comment on function app_private.ip_warmup_ramp(integer) is 'Messages a warming IP may send on the n-th day of its warm-up (day 0 is the first day): 50, doubling each day.';

create or replace function app_private.ip_warmup_target() returns bigint
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select 50000::bigint;
$$;
comment on function app_private.ip_warmup_target() is 'Daily volume at which an IP without a daily_limit counts as warmed.';

create or replace function app_private.ip_allowance(status text, daily_limit integer, warmup_started_at timestamptz, at timestamptz) returns bigint
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select case
    when status in ('available', 'quarantined', 'burned') then 0
    when status = 'degraded' then least(coalesce(daily_limit, app_private.ip_warmup_target()), app_private.ip_warmup_ramp(0))
    when status = 'warming' then least(coalesce(daily_limit, app_private.ip_warmup_target()), app_private.ip_warmup_ramp(
      coalesce(app_private.local_day(at, 'UTC') - app_private.local_day(warmup_started_at, 'UTC'), 0)))
    else daily_limit
  end;
$$;
comment on function app_private.ip_allowance(text, integer, timestamptz, timestamptz) is 'The IP warm-up formula for the UTC day of `at`: nothing while available, quarantined or burned; the ramp while warming; the day-0 volume while degraded; daily_limit (null: no cap) when assigned or warmed.';

create or replace function app_private.ip_daily_allowance(smtp_ip_address_id uuid, at timestamptz default now()) returns bigint
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.ip_allowance(ip.status, ip.daily_limit, ip.warmup_started_at, ip_daily_allowance.at)
  from app_public.smtp_ip_addresses ip
  where ip.id = ip_daily_allowance.smtp_ip_address_id;
$$;
comment on function app_private.ip_daily_allowance(uuid, timestamptz) is 'How many messages the IP may send on the UTC day of `at` (see ip_allowance); null means no cap.';

create or replace function app_public.smtp_ip_addresses_daily_allowance(ip app_public.smtp_ip_addresses) returns bigint
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_private.ip_allowance(ip.status, ip.daily_limit, ip.warmup_started_at, now());
$$;
comment on function app_public.smtp_ip_addresses_daily_allowance(app_public.smtp_ip_addresses) is 'How many messages this IP may send today (UTC); null means no cap.';

--------------------------------------------------------------------------------
-- Inbox bookkeeping: a valid time zone (daily resets depend on it), the start
-- of a warm-up (counted against the plan's max_warmups), and last_warmed_at.
--------------------------------------------------------------------------------

create or replace function app_private.tg__email_account_warmup() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'INSERT' or new.timezone is distinct from old.timezone then
    begin
      perform now() at time zone new.timezone;
    exception when invalid_parameter_value then
      raise exception 'Unknown time zone "%"; use an IANA name such as Europe/Paris or UTC.', new.timezone using errcode = 'INVAL';
    end;
  end if;

  -- A warm-up starts when an inbox is created with warm-up on, or when it is
  -- switched on later; each start counts against the plan's max_warmups.
  if new.warmup_enabled and (tg_op = 'INSERT' or not old.warmup_enabled) then
    new.warmup_started_at := case when tg_op = 'INSERT' then coalesce(new.warmup_started_at, now()) else now() end;
    perform app_private.consume_usage(new.tenant_id, 'warmups', 1);
  end if;

  -- last_warmed_at: the last time a send was counted while the inbox was still
  -- below its full daily limit because of the ramp.
  if tg_op = 'UPDATE' and new.daily_count > 0
     and (new.daily_count > old.daily_count or new.daily_count_date is distinct from old.daily_count_date)
     and new.warmup_enabled and new.warmup_started_at is not null
     and app_private.inbox_allowance(true, new.warmup_started_at, new.daily_limit, new.timezone, now()) < new.daily_limit then
    new.last_warmed_at := now();
  end if;
  return new;
end;
$$;
comment on function app_private.tg__email_account_warmup() is 'Checks the inbox time zone, starts its warm-up (warmup_started_at, counted as a warm-up against the plan) and keeps last_warmed_at.';

create or replace trigger _200_warmup
  before insert or update of timezone, warmup_enabled, daily_count, daily_count_date on app_public.email_accounts
  for each row execute function app_private.tg__email_account_warmup();

create or replace function app_private.reset_daily_counts(at timestamptz default now())
  returns table (inboxes integer, ips integer)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_inboxes integer;
  v_ips integer;
begin
  update app_public.email_accounts ea
    set daily_count = 0, daily_count_date = app_private.local_day(reset_daily_counts.at, ea.timezone)
    where ea.daily_count_date < app_private.local_day(reset_daily_counts.at, ea.timezone)
       or (ea.daily_count_date is null and ea.daily_count > 0);
  get diagnostics v_inboxes = row_count;
  update app_public.smtp_ip_addresses ip
    set daily_count = 0, daily_count_date = app_private.local_day(reset_daily_counts.at, 'UTC')
    where ip.daily_count_date < app_private.local_day(reset_daily_counts.at, 'UTC')
       or (ip.daily_count_date is null and ip.daily_count > 0);
  get diagnostics v_ips = row_count;
  return query select v_inboxes, v_ips;
end;
$$;
comment on function app_private.reset_daily_counts(timestamptz) is 'Starts a new day for every inbox whose local day (its time zone) has moved past daily_count_date, and for every IP on a new UTC day: daily_count back to 0. Returns how many of each were reset.';

--------------------------------------------------------------------------------
-- The scheduled warmup_tick task: daily counts reset at each inbox's and IP's
-- local midnight, and IPs whose warm-up reached its target (functions/220).
--------------------------------------------------------------------------------

create or replace function app_private.warmup_tick(at timestamptz default now()) returns jsonb
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_reset record;
  v_warmed integer;
begin
  select * into v_reset from app_private.reset_daily_counts(warmup_tick.at);
  v_warmed := app_private.complete_ip_warmups(warmup_tick.at);
  return jsonb_build_object('inboxes_reset', v_reset.inboxes, 'ips_reset', v_reset.ips, 'ips_warmed', v_warmed);
end;
$$;
comment on function app_private.warmup_tick(timestamptz) is 'Run every 15 minutes (time zones are offset by quarter hours): local-midnight resets of daily counts, and IP warm-ups that reached their target.';
