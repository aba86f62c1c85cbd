--------------------------------------------------------------------------------
-- Usage as the API shows it: per metric, what is used, the limit and the
-- plan (current_usage), and per billing period the figures (live for the open
-- period, final for closed ones). Counters and gauges live in app_private, so
-- these readers are SECURITY DEFINER and only ever answer for the tenant of
-- the request.
--------------------------------------------------------------------------------

create or replace function app_private.usage_metrics() returns text[]
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select array['emails_sent', 'campaigns_started', 'warmups', 'contacts', 'domains', 'email_accounts', 'users'];
$$;
comment on function app_private.usage_metrics() is 'Every usage metric, metered ones first.';

create or replace function app_private.is_metered(metric text) returns boolean
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select metric in ('emails_sent', 'campaigns_started', 'warmups');
$$;
comment on function app_private.is_metered(text) is 'True for metrics counted per billing period (events), false for gauges (what exists now).';

create or replace function app_private.tenant_usage(tenant_id uuid) returns setof app_public.usage_metric
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select m.metric,
         case when app_private.is_metered(m.metric)
              then app_private.metered_usage(tenant_usage.tenant_id, m.metric)
              else app_private.gauge_value(tenant_usage.tenant_id, m.metric) end,
         l.limit_value,
         l.plan_name
  from unnest(app_private.usage_metrics()) with ordinality as m (metric, position)
  left join lateral app_private.effective_limit(tenant_usage.tenant_id, m.metric) l on true
  order by m.position;
$$;
comment on function app_private.tenant_usage(uuid) is 'Usage, limit and plan of every metric for one tenant in its open billing period.';

create or replace function app_public.current_usage() returns setof app_public.usage_metric
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select u.* from app_private.tenant_usage(app_public.current_tenant_id()) u
  where app_public.current_tenant_id() is not null
    and app_hidden.api_key_allows('billing', 'read'); -- an API key needs billing:read (functions/052-api-keys.sql)
$$;
comment on function app_public.current_usage() is E'@behavior +list -connection\n@listSuffix omit\nYour organisation''s usage in the current billing period, per metric: emails_sent, campaigns_started and warmups (counted this period), contacts, domains, email_accounts and users (what exists now); with the limit (null: unlimited, add-ons included) and the plan that sets it.';

create or replace function app_public.usage_periods_usage(period app_public.usage_periods) returns app_public.usage_figures
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select case
    when period.closed_at is not null then
      row(period.emails_sent, period.campaigns_started, period.warmups, period.contacts,
          period.domains, period.email_accounts, period.users)::app_public.usage_figures
    else
      row(app_private.metered_usage(period.tenant_id, 'emails_sent', period.period_start),
          app_private.metered_usage(period.tenant_id, 'campaigns_started', period.period_start),
          app_private.metered_usage(period.tenant_id, 'warmups', period.period_start),
          app_private.gauge_value(period.tenant_id, 'contacts'),
          app_private.gauge_value(period.tenant_id, 'domains'),
          app_private.gauge_value(period.tenant_id, 'email_accounts'),
          app_private.gauge_value(period.tenant_id, 'users'))::app_public.usage_figures
  end
  where period.tenant_id = app_public.current_tenant_id();
$$;
comment on function app_public.usage_periods_usage(app_public.usage_periods) is 'Usage in this billing period: live figures while the period is open, the final figures recorded at roll-over once it is closed. Counted events (emails_sent, campaigns_started, warmups) belong to the period; contacts, domains, email_accounts and users are what existed (at close, for a closed period).';
