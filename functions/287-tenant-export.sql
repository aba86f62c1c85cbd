--------------------------------------------------------------------------------
-- A whole organisation's data as one archive (docs/privacy.md).
--
--   requestTenantExport (owner/admin) ──▶ queued ── tenant_export job ──▶ running ──▶ completed ── 7 days ──▶ expired
--                                                                           └──────▶ failed
--
-- The worker (workers/tenant-export.ts) writes every table of
-- app_private.tenant_export_tables() as NDJSON into
-- PM_DATA_DIR/exports/<tenant>/<export>.tar.gz; GET /exports/<id>
-- (src/privacy/export-route.ts) serves it through
-- app_hidden.tenant_export_download, which decides who may and audits it.
-- The hourly tenant_export_sweep marks exports past expires_at expired and
-- deletes every file no live export row keeps (expired, failed, purged).
--------------------------------------------------------------------------------

create or replace function app_private.tenant_export_keep_for() returns interval
  language sql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
  select interval '7 days';
$$;
comment on function app_private.tenant_export_keep_for() is 'How long a written export can be downloaded before its file is deleted.';

create or replace function app_private.tenant_export_tables()
  returns table (table_name text, key_column text)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_purge_order text[];
begin
  -- The purge's order (functions/285-account-closure.sql) deletes referencing
  -- tables first; reversed, a table comes after the tables it references
  -- (but where keys form a loop), the order a re-import needs.
  select array_agg(p.table_name order by p.n desc) into v_purge_order
    from app_private.tenant_purge_plan() with ordinality p(step, schema_name, table_name, columns, n)
    where p.step = 'delete' and p.schema_name = 'app_public';
  return query
    select c.relname::text,
           case when c.relname = 'tenants' then 'id' else 'tenant_id' end
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition
      and (c.relname = 'tenants'
           or exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped))
    order by case c.relname when 'tenants' then 0 when 'subscriptions' then 1 when 'payments' then 2 else 3 end,
             array_position(v_purge_order, c.relname::text), c.relname;
end;
$$;
comment on function app_private.tenant_export_tables() is 'The tables a tenant export holds, read from the catalogue: the tenant row (by id) and every table of app_public with a tenant_id (partitions through their parent), referenced tables before the tables referencing them (the purge plan reversed). app_private (secrets) is never exported.';

create or replace function app_private.may_export_tenant(tenant_id uuid) returns boolean
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  if tenant_id is null or app_hidden.current_api_key_id() is not null then
    return false;
  end if;
  -- An owner or admin in the organisation the request acts in, or an owner of
  -- a closed one still in its grace period (no member can act in it any more).
  return (tenant_id = app_public.current_tenant_id() and app_public.has_tenant_role('admin'))
      or exists (select 1 from app_private.closed_tenants_owned_by(app_public.current_user_id()) t where t.id = may_export_tenant.tenant_id);
end;
$$;
comment on function app_private.may_export_tenant(uuid) is 'Whether the caller may export this organisation and download its exports: an owner or admin acting in it (signed in, never an API key), or an owner of it while it is closed and not yet purged.';

create or replace function app_private.audit_tenant_export(tenant_id uuid, export_id uuid, action text, changes jsonb) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_user_id uuid := app_public.current_user_id();
  v_staff boolean;
begin
  -- Staff when they act in the tenant without being a member of it (an access session), as in tg__audit.
  select v_user_id is not null and not exists (
      select 1 from app_public.tenant_users tu
      where tu.tenant_id = audit_tenant_export.tenant_id and tu.user_id = v_user_id and tu.deleted_at is null)
    into v_staff;
  insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, table_name, record_id, changes)
    values (audit_tenant_export.tenant_id, v_user_id, v_staff, action, 'tenant_exports', export_id::text, changes);
end;
$$;
comment on function app_private.audit_tenant_export(uuid, uuid, text, jsonb) is 'One audit_log row about a tenant export (requested, downloaded), by the current user.';

create or replace function app_public.request_tenant_export(tenant_id uuid default null) returns app_public.tenant_exports
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := coalesce(request_tenant_export.tenant_id, app_public.current_tenant_id());
  v_user_id uuid := app_public.current_user_id();
  v_active app_public.tenant_exports;
  v_export app_public.tenant_exports;
begin
  if app_hidden.current_api_key_id() is not null then
    raise exception 'An API key cannot export the organisation; sign in as an owner or admin.' using errcode = 'DNIED';
  end if;
  if not app_private.may_export_tenant(v_tenant_id) then
    raise exception 'Only owners and admins of the organisation can export its data.' using errcode = 'DNIED';
  end if;
  select e.* into v_active from app_public.tenant_exports e
    where e.tenant_id = v_tenant_id and e.kind = 'tenant' and e.status in ('queued', 'running') limit 1;
  if v_active.id is not null then
    raise exception 'An export of this organisation is already % (requested %); wait until it finishes.',
      v_active.status, to_char(v_active.created at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"') using errcode = 'STATE';
  end if;
  -- Two requests at once: the partial unique index lets one in.
  insert into app_public.tenant_exports (tenant_id, requested_by) values (v_tenant_id, v_user_id)
    on conflict (tenant_id, kind) where status in ('queued', 'running') do nothing
    returning * into v_export;
  if v_export.id is null then
    raise exception 'An export of this organisation is already queued or running; wait until it finishes.' using errcode = 'STATE';
  end if;
  perform app_private.add_job(v_tenant_id, 'tenant_export', json_build_object('tenant_id', v_tenant_id, 'export_id', v_export.id),
                              job_key => 'tenant_export:' || v_export.id, max_attempts => 3);
  perform app_private.audit_tenant_export(v_tenant_id, v_export.id, 'tenant_export.requested', '{}'::jsonb);
  return v_export;
end;
$$;
comment on function app_public.request_tenant_export(uuid) is E'Exports the whole organisation''s data (owners and admins, signed in; not with an API key): the worker writes every table as NDJSON into one .tar.gz with a manifest; follow status, tablesDone/tablesTotal and rowsWritten in tenantExports, then download it with GET /exports/<rowId> and your token until expiresAt (7 days). One export at a time per organisation. tenantId: only for an organisation you own that is closed and not yet deleted (default: the current organisation).';

drop function if exists app_hidden.tenant_export_download(uuid);
create or replace function app_hidden.tenant_export_download(export_id uuid)
  returns table (tenant_id uuid, id uuid, kind text, format text, byte_size bigint, sha256 text, expires_at timestamptz, created timestamptz)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid;
  v_kind text;
  v_export app_public.tenant_exports;
  v_now timestamptz := now();
begin
  if app_hidden.current_api_key_id() is not null then
    raise exception 'An API key cannot download an export; sign in (owners and admins for an organisation export, members for a CSV export).' using errcode = 'DNIED';
  end if;
  -- Found by id across tenants, then read again (and locked) within its tenant.
  select e.tenant_id, e.kind into v_tenant_id, v_kind from app_public.tenant_exports e where e.id = tenant_export_download.export_id;
  if v_tenant_id is null
     or (v_kind = 'tenant' and not app_private.may_export_tenant(v_tenant_id))
     or (v_kind <> 'tenant' and not app_private.may_export_csv(v_tenant_id)) then
    raise exception 'No export with that id in an organisation where you may download it.' using errcode = 'NTFND';
  end if;
  select e.* into v_export from app_public.tenant_exports e
    where e.tenant_id = v_tenant_id and e.id = tenant_export_download.export_id for update;
  if v_export.status = 'expired' or (v_export.status = 'completed' and v_export.expires_at <= v_now) then
    raise exception 'This export expired (its file is deleted % after it is written); request a new one.', app_private.tenant_export_keep_for()
      using errcode = 'EXPRD';
  elsif v_export.status = 'failed' then
    raise exception 'This export failed: %', v_export.error using errcode = 'STATE';
  elsif v_export.status <> 'completed' and v_export.kind = 'tenant' then
    raise exception 'This export is still %: % of % tables written.', v_export.status, v_export.tables_done, coalesce(v_export.tables_total::text, '?')
      using errcode = 'STATE';
  elsif v_export.status <> 'completed' then
    raise exception 'This export is still %: % of % rows written.', v_export.status, v_export.rows_written, coalesce(v_export.rows_total::text, '?')
      using errcode = 'STATE';
  end if;
  update app_public.tenant_exports e set downloads = e.downloads + 1
    where e.tenant_id = v_tenant_id and e.id = v_export.id;
  perform app_private.audit_tenant_export(v_tenant_id, v_export.id, 'tenant_export.downloaded',
                                          jsonb_build_object('kind', v_export.kind, 'byte_size', v_export.byte_size, 'sha256', v_export.sha256));
  return query select v_export.tenant_id, v_export.id, v_export.kind, v_export.format, v_export.byte_size, v_export.sha256, v_export.expires_at, v_export.created;
end;
$$;
comment on function app_hidden.tenant_export_download(uuid) is 'The download check of GET /exports/<id>: the export, when the caller may download it (an organisation export: may_export_tenant; a CSV export: may_export_csv; else NOT_FOUND, so another tenant''s export is indistinguishable from none), it is completed and not expired (EXPRD once expired; STATE while queued, running, or failed). Counts and audits the download.';

--------------------------------------------------------------------------------
-- The worker's steps.
--------------------------------------------------------------------------------

drop function if exists app_private.start_tenant_export(uuid, uuid, integer);
create or replace function app_private.start_tenant_export(tenant_id uuid, export_id uuid, tables_total integer, rows_total bigint default null) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_now timestamptz := now();
begin
  -- A retried job starts over: a running export goes back to zero.
  update app_public.tenant_exports e
    set status = 'running', started_at = v_now, tables_total = start_tenant_export.tables_total, tables_done = 0,
        rows_written = 0, rows_total = start_tenant_export.rows_total
    where e.tenant_id = start_tenant_export.tenant_id and e.id = start_tenant_export.export_id and e.status in ('queued', 'running');
  return found;
end;
$$;
comment on function app_private.start_tenant_export(uuid, uuid, integer, bigint) is 'The worker starts (or restarts) writing an export of tables_total tables (a CSV export is one table of rows_total rows); false when it is no longer queued or running (nothing to do).';

create or replace function app_private.tenant_export_progress(tenant_id uuid, export_id uuid, tables_done integer, rows_written bigint) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  update app_public.tenant_exports e
    set tables_done = tenant_export_progress.tables_done, rows_written = tenant_export_progress.rows_written
    where e.tenant_id = tenant_export_progress.tenant_id and e.id = tenant_export_progress.export_id and e.status = 'running';
end;
$$;
comment on function app_private.tenant_export_progress(uuid, uuid, integer, bigint) is 'The worker''s progress on an export: tables and rows written so far.';

create or replace function app_private.finish_tenant_export(tenant_id uuid, export_id uuid, rows_written bigint, byte_size bigint, sha256 text)
  returns app_public.tenant_exports
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_now timestamptz := now();
  v_expires_at timestamptz := now() + app_private.tenant_export_keep_for();
  v_export app_public.tenant_exports;
begin
  update app_public.tenant_exports e
    set status = 'completed', tables_done = e.tables_total, rows_written = finish_tenant_export.rows_written,
        byte_size = finish_tenant_export.byte_size, sha256 = finish_tenant_export.sha256, finished_at = v_now, expires_at = v_expires_at
    where e.tenant_id = finish_tenant_export.tenant_id and e.id = finish_tenant_export.export_id and e.status = 'running'
    returning * into v_export;
  return v_export;
end;
$$;
comment on function app_private.finish_tenant_export(uuid, uuid, bigint, bigint, text) is 'The worker wrote the archive: the export is completed and downloadable for tenant_export_keep_for(). Null when it was not running any more.';

create or replace function app_private.fail_tenant_export(tenant_id uuid, export_id uuid, error text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_now timestamptz := now();
  v_error text := left(coalesce(error, 'unknown error'), 2000);
begin
  update app_public.tenant_exports e set status = 'failed', error = v_error, finished_at = v_now
    where e.tenant_id = fail_tenant_export.tenant_id and e.id = fail_tenant_export.export_id and e.status in ('queued', 'running');
end;
$$;
comment on function app_private.fail_tenant_export(uuid, uuid, text) is 'The worker could not write the export: failed, with the reason (another export can be requested).';

create or replace function app_private.expire_tenant_exports()
  returns table (tenant_id uuid, id uuid)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_now timestamptz := now();
  v_stale timestamptz := now() - interval '1 hour';
begin
  -- A running export whose worker died (no progress for an hour) fails, so another can be requested.
  update app_public.tenant_exports e set status = 'failed', error = 'The worker stopped while writing the export; request a new one.', finished_at = v_now
    where e.status = 'running' and e.updated < v_stale;
  return query
    update app_public.tenant_exports e set status = 'expired'
    where e.status = 'completed' and e.expires_at <= v_now
    returning e.tenant_id, e.id;
end;
$$;
comment on function app_private.expire_tenant_exports() is 'Run hourly (tenant_export_sweep): completed exports past expires_at become expired (their file is then deleted), and running exports without progress for an hour fail. Returns the exports that expired.';

create or replace function app_private.tenant_export_files_kept()
  returns table (tenant_id uuid, id uuid)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return query
    select e.tenant_id, e.id from app_public.tenant_exports e where e.status in ('queued', 'running', 'completed');
end;
$$;
comment on function app_private.tenant_export_files_kept() is 'The exports whose file stays on disk (queued, running, completed and not yet expired); the sweep deletes every other export file, including those of purged organisations.';
