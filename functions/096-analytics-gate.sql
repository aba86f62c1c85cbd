--------------------------------------------------------------------------------
-- Plan features in the request context, and the advanced-analytics gate.
--
-- enter_request and enter_api_key record the features of the tenant's
-- current plan in app.current_plan_features (functions/001, 052), looked up
-- once per request like the roles; policies and helpers read the setting
-- only, so a policy costs the same on every row and works on Citus workers.
--
-- advanced_analytics: the day-by-day analytics. Rows of campaign_stats_daily
-- are visible only on a plan that has it (policies/095-analytics.sql: in the
-- row policy, so the API, API keys and a psql session acting as a member all
-- obey it); dailyStats and statistics between two days refuse
-- (PLAN_FEATURE_REQUIRED) without it. Totals (campaign.stats, tenantStats
-- without days) are on every plan: app_hidden.rollup_totals reads the rollup
-- as its owner, for the request's own tenant only, without the row policy.
--------------------------------------------------------------------------------

create or replace function app_private.plan_features(plan app_public.plans) returns text[]
  language sql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
  select array_remove(array[case when plan.advanced_analytics then 'advanced_analytics' end], null);
$$;
comment on function app_private.plan_features(app_public.plans) is 'The feature flags a plan grants, by name (advanced_analytics), as enter_request records them in app.current_plan_features.';

create or replace function app_hidden.current_plan_allows(feature text) returns boolean
  language sql stable parallel safe
as $$
  select feature operator(pg_catalog.=) any (
    coalesce(nullif(pg_catalog.current_setting('app.current_plan_features', true), '')::text[], '{}'::text[])
  );
$$;
comment on function app_hidden.current_plan_allows(text) is 'Whether the current tenant''s plan, as enter_request found it, has the feature (advanced_analytics). Reads a setting only.';

-- The tenant check of a policy gated by a plan feature, in one call, like
-- current_tenant_id_for_role: inlined (plain SQL, no SET clause), a stable
-- expression the planner computes once per scan and uses as an index key.
-- (Citus refuses a sub-select in a policy, so it cannot be an initplan.)
create or replace function app_hidden.current_tenant_id_with_feature(minimum text, feature text) returns uuid
  language sql stable parallel safe
as $$
  select case when app_hidden.current_plan_allows(feature) then app_public.current_tenant_id_for_role(minimum) end;
$$;
comment on function app_hidden.current_tenant_id_with_feature(text, text) is 'The tenant of this request when the current user holds at least the given role in it and its plan has the feature; null otherwise. Policies of plan-gated tables compare tenant_id against it.';

create or replace function app_hidden.require_plan_feature(feature text, what text) returns void
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_plans text;
begin
  if app_hidden.current_plan_allows(feature) then
    return;
  end if;
  select string_agg(p.name, ' and ' order by coalesce(p.price_monthly, 0), p.slug) into v_plans
    from app_public.plans p where p.is_active and (pg_catalog.to_jsonb(p) ->> feature) = 'true';
  raise exception '% % part of % (%): your organisation''s plan does not include it; upgrade to use it.',
      what, case when what ~ 's$' then 'are' else 'is' end, replace(feature, '_', ' '),
      coalesce('in the ' || v_plans || ' plan' || case when v_plans like '% and %' then 's' else '' end, 'no plan at the moment')
    using errcode = 'PLANF', detail = pg_catalog.json_build_object('feature', feature)::text;
end;
$$;
comment on function app_hidden.require_plan_feature(text, text) is 'Refuses (PLAN_FEATURE_REQUIRED, DETAIL {"feature"}) unless the current tenant''s plan has the feature; the message names `what` and the plans that include it.';

-- Whether the caller reads every row anyway (BYPASSRLS: the owner role of the
-- worker and of tools). The API's roles are the request's role on the
-- coordinator (SET ROLE) and the session's role on a Citus worker, where
-- Citus connects as the role running the query.
create or replace function app_private.caller_bypasses_rls() returns boolean
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_role text := coalesce(nullif(nullif(current_setting('role', true), ''), 'none'), session_user::text);
begin
  return coalesce((select r.rolsuper or r.rolbypassrls from pg_catalog.pg_roles r where r.rolname = v_role), false);
end;
$$;
comment on function app_private.caller_bypasses_rls() is 'True when the role the session acts as (SET ROLE, else the session user) bypasses row security: owner and superuser sessions, never an API role. Call it only from SECURITY DEFINER functions deciding for their caller.';

create or replace function app_hidden.rollup_totals(tenant_id uuid, campaign_id uuid, since date, until date)
  returns app_public.message_stats
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_trusted boolean := app_private.caller_bypasses_rls();
  v_since date;
  v_until date;
  v_n record;
begin
  -- The request's own tenant only (and, for an API key, with analytics:read),
  -- as the row policy would allow without the plan gate.
  if not v_trusted and (rollup_totals.tenant_id is distinct from app_public.current_tenant_id_for_role('viewer')
                        or not app_hidden.api_key_allows('analytics', 'read')) then
    return app_hidden.stats_with_rates(null, null, null, null, null, null, null, null, null, null, null);
  end if;
  -- Totals between two days would rebuild the daily series day by day.
  if not v_trusted and (since is not null or until is not null) then
    perform app_hidden.require_plan_feature('advanced_analytics', 'Statistics between two days');
  end if;
  -- Plain aggregates into variables, every parameter compared with a column
  -- (Citus sends a query's parameters to the workers untyped: `$n is null`
  -- alone cannot be typed there).
  v_since := coalesce(since, '-infinity'::date);
  v_until := coalesce(until, 'infinity'::date);
  if rollup_totals.campaign_id is null then
    select sum(s.sent)::bigint as sent, sum(s.delivered)::bigint as delivered, sum(s.opened)::bigint as opened,
           sum(s.clicked)::bigint as clicked, sum(s.replied)::bigint as replied, sum(s.bounced)::bigint as bounced,
           sum(s.failed)::bigint as failed, sum(s.unsubscribed)::bigint as unsubscribed, sum(s.complained)::bigint as complained,
           sum(s.opens_total)::bigint as opens_total, sum(s.clicks_total)::bigint as clicks_total
      into v_n
      from app_public.campaign_stats_daily s
      where s.tenant_id = rollup_totals.tenant_id and s.day >= v_since and s.day <= v_until;
  else
    select sum(s.sent)::bigint as sent, sum(s.delivered)::bigint as delivered, sum(s.opened)::bigint as opened,
           sum(s.clicked)::bigint as clicked, sum(s.replied)::bigint as replied, sum(s.bounced)::bigint as bounced,
           sum(s.failed)::bigint as failed, sum(s.unsubscribed)::bigint as unsubscribed, sum(s.complained)::bigint as complained,
           sum(s.opens_total)::bigint as opens_total, sum(s.clicks_total)::bigint as clicks_total
      into v_n
      from app_public.campaign_stats_daily s
      where s.tenant_id = rollup_totals.tenant_id and s.campaign_id = rollup_totals.campaign_id and s.day >= v_since and s.day <= v_until;
  end if;
  return app_hidden.stats_with_rates(v_n.sent, v_n.delivered, v_n.opened, v_n.clicked, v_n.replied, v_n.bounced, v_n.failed,
    v_n.unsubscribed, v_n.complained, v_n.opens_total, v_n.clicks_total);
end;
$$;
comment on function app_hidden.rollup_totals(uuid, uuid, date, date) is 'Totals of the daily campaign rollup for one campaign (or all of a tenant''s, campaign_id null), read past the row policy''s plan gate so totals are on every plan: only for the request''s own tenant (an API key needs analytics:read; otherwise all zeros) unless the caller bypasses row security. A range of days needs advanced analytics (PLAN_FEATURE_REQUIRED).';
