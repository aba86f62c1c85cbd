--------------------------------------------------------------------------------
-- policies/ is declarative: this file runs first (in the same transaction as
-- the others) and wipes every policy and every API-role privilege in our
-- schemas, so the files that follow are the complete truth. Removing a line
-- from a policy file removes that access. Nothing is ever open in between:
-- RLS is forced and a table without policy or grant denies everything.
--------------------------------------------------------------------------------

do $$
declare
  r record;
begin
  for r in
    select p.policyname, p.schemaname, p.tablename
    from pg_policies p
    where p.schemaname in ('app_public', 'app_hidden', 'app_private')
  loop
    execute format('drop policy %I on %I.%I', r.policyname, r.schemaname, r.tablename);
  end loop;

  -- Row-level security, enabled and forced, on every table we own (partitions
  -- included: they are reachable only through their parent, which has the
  -- policies, but forcing RLS on them too fails closed).
  for r in
    select c.oid::regclass as tbl
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname in ('app_public', 'app_hidden', 'app_private') and c.relkind in ('r', 'p')
  loop
    execute format('alter table %s enable row level security', r.tbl);
    execute format('alter table %s force row level security', r.tbl);
  end loop;
end;
$$;

revoke all on all tables in schema app_public, app_hidden, app_private
  from penguinmails_anonymous, penguinmails_member, penguinmails_staff, penguinmails_analytics, penguinmails_authenticator, public;
revoke all on all sequences in schema app_public, app_hidden, app_private
  from penguinmails_anonymous, penguinmails_member, penguinmails_staff, penguinmails_analytics, penguinmails_authenticator, public;
revoke all on all functions in schema app_public, app_hidden, app_private
  from penguinmails_anonymous, penguinmails_member, penguinmails_staff, penguinmails_analytics, penguinmails_authenticator, public;
revoke all on schema app_private
  from penguinmails_anonymous, penguinmails_member, penguinmails_staff, penguinmails_analytics, penguinmails_authenticator, public;

-- The request-context helpers every policy calls.
grant execute on function
  app_public.current_user_id(),
  app_public.current_tenant_id(),
  app_public.current_tenant_roles(),
  app_public.has_tenant_role(text),
  app_public.current_tenant_id_for_role(text),
  app_public.current_staff_has_permission(text),
  -- column defaults and generated columns of messages and events
  app_public.uuid_v7(timestamptz),
  app_public.uuid_v7_time(uuid)
to penguinmails_anonymous, penguinmails_member, penguinmails_analytics;
-- The first statement of every request (functions/001-request-context.sql).
-- The API sends it in the same statement as the set_config of its role
-- (requestStart, src/server/context.ts), so EXECUTE is checked for the
-- authenticator, before it has become the request's role. That gives the
-- authenticator nothing it could not do by becoming that role first.
grant usage on schema app_hidden to penguinmails_authenticator;
grant execute on function app_hidden.enter_request(uuid, uuid) to penguinmails_anonymous, penguinmails_member, penguinmails_authenticator;
-- Or, for a token the platform signed, its session's check first (functions/051-sessions.sql).
grant execute on function app_hidden.enter_session(uuid, uuid, uuid) to penguinmails_member, penguinmails_authenticator;

--------------------------------------------------------------------------------
-- The standard policy set of a tenant-owned table, so each table's access is
-- one readable line: who may read it, who may write it.
--------------------------------------------------------------------------------

create or replace function app_private.apply_tenant_policies(
  tbl regclass,
  write_role text,
  read_role text default 'viewer'
) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_read text := format('tenant_id = app_public.current_tenant_id_for_role(%L)', read_role);
  v_write text := format('tenant_id = app_public.current_tenant_id_for_role(%L)', write_role);
begin
  execute format('create policy tenant_select on %s for select using (%s)', tbl, v_read);
  execute format('comment on policy tenant_select on %s is %L', tbl,
    format('Rows of the current tenant, for its %ss and above.', read_role));
  if write_role is null then
    return;
  end if;
  execute format('create policy tenant_insert on %s for insert with check (%s)', tbl, v_write);
  execute format('comment on policy tenant_insert on %s is %L', tbl,
    format('Only into the current tenant, by its %ss and above.', write_role));
  execute format('create policy tenant_update on %s for update using (%s) with check (%s)', tbl, v_write, v_write);
  execute format('comment on policy tenant_update on %s is %L', tbl,
    format('Only the current tenant''s rows, by its %ss and above; a row cannot be moved to another tenant.', write_role));
  execute format('create policy tenant_delete on %s for delete using (%s)', tbl, v_write);
  execute format('comment on policy tenant_delete on %s is %L', tbl,
    format('Only the current tenant''s rows, by its %ss and above.', write_role));
end;
$$;
comment on function app_private.apply_tenant_policies(regclass, text, text) is 'Creates the select/insert/update/delete policies of a tenant-owned table for the given minimum read and write roles.';
