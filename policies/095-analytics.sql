--------------------------------------------------------------------------------
-- Analytics: every member of a tenant reads its statistics; only triggers
-- write. The day-by-day rows need a plan with advanced analytics (the feature
-- enter_request recorded, in the one tenant comparison of the policy,
-- computed once per scan); totals are on every plan through
-- app_hidden.rollup_totals (functions/096).
--------------------------------------------------------------------------------

grant execute on function app_hidden.current_plan_allows(text), app_hidden.current_tenant_id_with_feature(text, text)
to penguinmails_anonymous, penguinmails_member, penguinmails_analytics;

create policy tenant_select on app_public.campaign_stats_daily for select
  using (tenant_id = app_hidden.current_tenant_id_with_feature('viewer', 'advanced_analytics'));
comment on policy tenant_select on app_public.campaign_stats_daily is
  'Rows of the current tenant, for its viewers and above, when its plan has advanced analytics (day-by-day statistics); totals come from rollup_totals on every plan.';
grant select on app_public.campaign_stats_daily to penguinmails_member;
grant execute on function
  app_public.campaigns_stats(app_public.campaigns, date, date),
  app_public.tenant_stats(date, date),
  app_public.daily_stats(uuid, date, date),
  app_hidden.rollup_totals(uuid, uuid, date, date),
  app_hidden.require_plan_feature(text, text),
  app_hidden.stats_with_rates(bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint)
to penguinmails_member;

--------------------------------------------------------------------------------
-- The read-only analytics role reads every table of
-- the exposed schema across tenants, and nothing in app_private: no secret is
-- ever within its reach. It cannot write anything.
--------------------------------------------------------------------------------

do $$
declare
  t regclass;
begin
  for t in
    select c.oid::regclass
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition
  loop
    execute format('create policy analytics_read on %s for select to penguinmails_analytics using (true)', t);
    execute format('comment on policy analytics_read on %s is %L', t, 'The read-only analytics role reads all rows (no secrets live in this schema).');
    execute format('grant select on %s to penguinmails_analytics', t);
  end loop;
end;
$$;
