--------------------------------------------------------------------------------
-- Audit trail for security- and billing-relevant tables: who changed what.
--------------------------------------------------------------------------------

create or replace function app_private.tg__audit() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_old jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  v_new jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  v_row jsonb := coalesce(v_new, v_old);
  v_changes jsonb;
  v_record_id text;
  v_staff boolean;
begin
  if tg_op = 'UPDATE' then
    select jsonb_object_agg(n.key, jsonb_build_object('from', v_old -> n.key, 'to', n.value))
      into v_changes
      from jsonb_each(v_new) n
      where n.key not in ('updated', 'updated_by') and n.key <> all (tg_argv[1:])
        and n.value is distinct from v_old -> n.key;
    if v_changes is null then
      return null;
    end if;
  else
    v_changes := v_row - array['updated', 'created'];
  end if;
  -- A tenant being hard-deleted takes its rows (and its audit log) with it.
  if not exists (select 1 from app_public.tenants t where t.id = (v_row ->> 'tenant_id')::uuid) then
    return null;
  end if;
  v_record_id := coalesce(v_row ->> 'id', v_row ->> 'user_id', v_row ->> 'tenant_id');
  -- The actor is staff when they act in the tenant without being a member of
  -- it (an access session). The table is named by the trigger's argument: on
  -- Citus the trigger runs on a shard, whose name is not the table's.
  select app_public.current_user_id() is not null and not exists (
      select 1 from app_public.tenant_users tu
      where tu.tenant_id = (v_row ->> 'tenant_id')::uuid and tu.user_id = app_public.current_user_id() and tu.deleted_at is null
    ) into v_staff;
  insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, table_name, record_id, changes)
  values ((v_row ->> 'tenant_id')::uuid, app_public.current_user_id(), v_staff, tg_argv[0] || '.' || lower(tg_op), tg_argv[0], v_record_id, v_changes);
  return null;
end;
$$;
comment on function app_private.tg__audit() is 'Writes one audit_log row per inserted, updated (changed columns only) or deleted row. Arguments: the table''s name, then columns whose changes alone are not audited (bookkeeping the engine writes on every send).';

do $$
declare
  t text;
begin
  foreach t in array array[
    'tenant_users', 'invitations', 'tenant_policies', 'tenant_config', 'domains',
    'subscriptions', 'subscription_addons', 'companies'
  ] loop
    execute format(
      'create or replace trigger _900_audit after insert or update or delete on app_public.%I for each row execute function app_private.tg__audit(%L)',
      t, t);
  end loop;
end;
$$;
-- An inbox's pacing and daily count change with every email it books or
-- sends (functions/120, 130): those alone are not changes anyone made.
create or replace trigger _900_audit after insert or update or delete on app_public.email_accounts
  for each row execute function app_private.tg__audit('email_accounts', 'daily_count', 'daily_count_date', 'next_send_at', 'last_sent_at');
