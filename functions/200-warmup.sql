--------------------------------------------------------------------------------
-- Warm-up: how many messages an inbox may send today. A new inbox ramps up
-- day by day until it reaches its configured daily_limit; days are counted in
-- the inbox's own time zone.
--------------------------------------------------------------------------------

create or replace function app_private.local_day(at timestamptz, timezone text) returns date
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select (at at time zone coalesce(nullif(timezone, ''), 'UTC'))::date;
$$;
comment on function app_private.local_day(timestamptz, text) is 'The calendar day of an instant in a time zone.';

create or replace function app_private.warmup_ramp(day_number integer) returns integer
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  -- Day 0: 10 messages, then +10 a day.
  select 10 + 10 * greatest(day_number, 0);
$$;
comment on function app_private.warmup_ramp(integer) is 'Messages allowed on the n-th day of warm-up (day 0 is the first day).';

create or replace function app_private.inbox_daily_allowance(tenant_id uuid, email_account_id uuid, at timestamptz default now()) returns integer
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select case
    when not ea.warmup_enabled or ea.warmup_started_at is null then ea.daily_limit
    else least(ea.daily_limit, app_private.warmup_ramp(
      app_private.local_day(inbox_daily_allowance.at, ea.timezone) - app_private.local_day(ea.warmup_started_at, ea.timezone)))
  end
  from app_public.email_accounts ea
  where ea.tenant_id = inbox_daily_allowance.tenant_id and ea.id = inbox_daily_allowance.email_account_id;
$$;
comment on function app_private.inbox_daily_allowance(uuid, uuid, timestamptz) is 'How many messages the inbox may send on the local day of `at`: its daily_limit, or less while warming up.';
