--------------------------------------------------------------------------------
-- What an API key may reach (functions/052-api-keys.sql): the ONE table → area
-- mapping. For a request made with a key, reading a table needs its
-- `area:read` scope (or `area:write`) and inserting, updating or deleting
-- needs `area:write`, on top of the table's own policies (the key acts as an
-- admin of its tenant). A table missing here is closed to every key (members,
-- invitations, settings, the audit log, API keys, CRM, staff and platform
-- tables). Signed-in users are not affected. Add a feature's tables here.
--
-- The condition is what a RESTRICTIVE policy would add, but written into
-- every permissive policy instead (`(its condition) and <scope check>`):
-- Citus creates a table's policies on its shards as permissive, so a
-- restrictive policy there would widen access instead of narrowing it. This
-- file runs after every other policy file (policies/000 drops them all before
-- each apply, so the rewrite starts from the files' own policies every time).
--------------------------------------------------------------------------------

do $$
declare
  r record;
  v_key text;
  v_using text;
  v_check text;
begin
  for r in
    with area (table_name, area) as (values
      ('leads', 'leads'), ('custom_field_definitions', 'leads'), ('suppressions', 'leads'), ('lead_imports', 'leads'),
      ('contact_lists', 'lists'), ('contact_list_members', 'lists'),
      ('templates', 'templates'), ('folders', 'templates'), ('template_folders', 'templates'),
      ('tags', 'templates'), ('template_tags', 'templates'),
      ('campaigns', 'campaigns'), ('campaign_email_accounts', 'campaigns'), ('campaign_sequence_steps', 'campaigns'),
      ('campaign_step_variants', 'campaigns'), ('campaign_targets', 'campaigns'), ('campaign_enrollments', 'campaigns'),
      ('campaign_step_ab_decisions', 'campaigns'),
      ('messages', 'analytics'), ('email_events', 'analytics'), ('campaign_stats_daily', 'analytics'),
      ('domains', 'domains'), ('email_accounts', 'domains'), ('domain_ip_assignments', 'domains'), ('smtp_ip_addresses', 'domains'),
      ('tracking_domains', 'domains'),
      ('plans', 'billing'), ('subscriptions', 'billing'), ('subscription_addons', 'billing'), ('payments', 'billing'),
      ('usage_periods', 'billing'),
      ('conversations', 'leads'), ('conversation_messages', 'leads'),
      ('webhook_subscriptions', 'webhooks'), ('webhook_events', 'webhooks'), ('webhook_deliveries', 'webhooks')
    )
    select c.oid::regclass as tbl, p.polname, p.polcmd, a.area,
      -- pg_get_expr prints `x is distinct from null` as `x IS NOT NULL`, which
      -- Citus refuses in a policy ("unrecognized node type"): written back.
      replace(replace(pg_get_expr(p.polqual, p.polrelid), ' IS NOT NULL', ' IS DISTINCT FROM NULL'), ' IS NULL', ' IS NOT DISTINCT FROM NULL') as qual,
      replace(replace(pg_get_expr(p.polwithcheck, p.polrelid), ' IS NOT NULL', ' IS DISTINCT FROM NULL'), ' IS NULL', ' IS NOT DISTINCT FROM NULL') as with_check,
      obj_description(p.oid, 'pg_policy') as note,
      case when p.polroles = '{0}' then 'public'
           else (select string_agg(quote_ident(ro.rolname), ', ') from pg_roles ro where ro.oid = any (p.polroles)) end as roles
    from pg_policy p
    join pg_class c on c.oid = p.polrelid
    join pg_namespace n on n.oid = c.relnamespace
    left join area a on a.table_name = c.relname
    where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition and p.polpermissive
  loop
    v_key := case
      when r.area is null then 'app_hidden.without_api_key()'
      else format('app_hidden.api_key_allows(%L, %L)', r.area, case r.polcmd when 'r' then 'read' else 'write' end)
    end;
    v_using := case when r.qual is not null then format(' using ((%s) and %s)', r.qual, v_key) else '' end;
    v_check := case when r.with_check is not null then format(' with check ((%s) and %s)', r.with_check, v_key) else '' end;
    execute format('drop policy %I on %s', r.polname, r.tbl);
    execute format('create policy %I on %s as permissive for %s to %s%s%s', r.polname, r.tbl,
      case r.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update' when 'd' then 'delete' else 'all' end,
      r.roles, v_using, v_check);
    execute format('comment on policy %I on %s is %L', r.polname, r.tbl, concat_ws(' ', r.note,
      case when r.area is null then 'No API key reaches this table.'
           else format('An API key needs the %s:%s scope.', r.area, case r.polcmd when 'r' then 'read' else 'write' end) end));
  end loop;
end;
$$;
