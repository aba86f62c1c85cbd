--------------------------------------------------------------------------------
-- API keys (functions/052-api-keys.sql).
--------------------------------------------------------------------------------

-- Owners and admins read their organisation's keys (never a secret: those are
-- in app_private); every change goes through createApiKey, rotateApiKey and
-- revokeApiKey. No key reads this table (it maps to no area below).
select app_private.apply_tenant_policies('app_public.api_keys', write_role => null, read_role => 'admin');
grant select on app_public.api_keys to penguinmails_member;
grant execute on function
  app_public.create_api_key(text, text[], timestamptz),
  app_public.rotate_api_key(uuid),
  app_public.revoke_api_key(uuid)
to penguinmails_member;

-- The first statement of an API-key request (instead of enter_request).
grant execute on function app_hidden.enter_api_key(uuid, uuid) to penguinmails_member;
-- What the policies below, the SECURITY DEFINER mutations and the upload route call.
grant execute on function
  app_hidden.current_api_key_id(),
  app_hidden.without_api_key(),
  app_hidden.api_key_allows(text, text),
  app_hidden.api_key_allows_scopes(text[], text, text),
  app_hidden.require_api_scope(text, text)
to penguinmails_anonymous, penguinmails_member, penguinmails_analytics;

--------------------------------------------------------------------------------
-- What an API key may reach: the ONE table → area mapping. Every table of
-- app_public gets RESTRICTIVE policies: for a request made with a key, SELECT
-- needs the table's `area:read` scope (or `area:write`) and INSERT, UPDATE
-- and DELETE need `area:write`, on top of the table's usual policies (the
-- key acts as an admin of its tenant). A table missing here is closed to every
-- key (members, invitations, settings, the audit log, API keys, CRM, staff and
-- platform tables). Signed-in users are not affected. Add a feature's tables
-- here, e.g. ('webhook_subscriptions', 'webhooks').
--------------------------------------------------------------------------------

do $$
declare
  r record;
  v_read text;
  v_write text;
begin
  for r in
    with area (table_name, area) as (values
      ('leads', 'leads'), ('custom_field_definitions', 'leads'), ('suppressions', 'leads'), ('lead_imports', 'leads'),
      ('contact_lists', 'lists'), ('contact_list_members', 'lists'),
      ('templates', 'templates'), ('folders', 'templates'), ('template_folders', 'templates'),
      ('tags', 'templates'), ('template_tags', 'templates'),
      ('campaigns', 'campaigns'), ('campaign_email_accounts', 'campaigns'), ('campaign_sequence_steps', 'campaigns'),
      ('campaign_step_variants', 'campaigns'), ('campaign_targets', 'campaigns'), ('campaign_enrollments', 'campaigns'),
      ('messages', 'analytics'), ('email_events', 'analytics'), ('campaign_stats_daily', 'analytics'),
      ('domains', 'domains'), ('email_accounts', 'domains'), ('domain_ip_assignments', 'domains'), ('smtp_ip_addresses', 'domains'),
      ('plans', 'billing'), ('subscriptions', 'billing'), ('subscription_addons', 'billing'), ('payments', 'billing'),
      ('usage_periods', 'billing')
    )
    select c.oid::regclass as tbl, a.area
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    left join area a on a.table_name = c.relname
    where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition
  loop
    if r.area is null then
      execute format('create policy api_key_closed on %s as restrictive for all using (app_hidden.without_api_key())', r.tbl);
      execute format('comment on policy api_key_closed on %s is %L', r.tbl, 'No API key reads or writes this table.');
      continue;
    end if;
    v_read := format('app_hidden.api_key_allows(%L, %L)', r.area, 'read');
    v_write := format('app_hidden.api_key_allows(%L, %L)', r.area, 'write');
    execute format('create policy api_key_read on %s as restrictive for select using (%s)', r.tbl, v_read);
    execute format('create policy api_key_insert on %s as restrictive for insert with check (%s)', r.tbl, v_write);
    execute format('create policy api_key_update on %s as restrictive for update using (%s) with check (%s)', r.tbl, v_write, v_write);
    execute format('create policy api_key_delete on %s as restrictive for delete using (%s)', r.tbl, v_write);
    execute format('comment on policy api_key_read on %s is %L', r.tbl, format('An API key reads these rows only with the %s:read or %s:write scope.', r.area, r.area));
    execute format('comment on policy api_key_insert on %s is %L', r.tbl, format('An API key inserts only with the %s:write scope.', r.area));
    execute format('comment on policy api_key_update on %s is %L', r.tbl, format('An API key updates only with the %s:write scope.', r.area));
    execute format('comment on policy api_key_delete on %s is %L', r.tbl, format('An API key deletes only with the %s:write scope.', r.area));
  end loop;
end;
$$;
