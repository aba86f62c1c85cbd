--------------------------------------------------------------------------------
-- Analytics: every member of a tenant reads its statistics; only triggers write.
--------------------------------------------------------------------------------

select app_private.apply_tenant_policies('app_public.campaign_stats_daily', write_role => null);
grant select on app_public.campaign_stats_daily to penguinmails_member;
grant execute on function
  app_public.campaigns_stats(app_public.campaigns, date, date),
  app_public.tenant_stats(date, date),
  app_public.daily_stats(uuid, date, date),
  app_hidden.stats_with_rates(bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint)
to penguinmails_member;
