--------------------------------------------------------------------------------
-- CSV lead imports. POST /imports/leads stores the file and inserts the
-- lead_imports row as the caller (RLS: members and above of their tenant);
-- the insert queues the import_leads job. The worker streams the file into a
-- temporary staging table (COPY) and everything else happens here, set-based
-- and in one transaction:
--
--   start_lead_import      pending → processing (committed on its own, so the
--                          status is visible while the file loads)
--   prepare_lead_import    acts as the importing member, re-checks they may
--                          still add leads, creates the staging table
--   (worker COPYs rows into pg_temp.lead_import_rows)
--   complete_lead_import   validates every row (the email_address domain and
--                          the leads table's own CHECK constraints, custom
--                          field types, duplicates in the file, suppressions),
--                          upserts the valid ones, fills the static list,
--                          records counts and the first 100 row errors
--   fail_lead_import       failed, with the reason (e.g. the plan's contact
--                          limit, raised by the leads gauge trigger); the
--                          transaction that loaded rows is rolled back, so
--                          nothing of a failed import is kept
--------------------------------------------------------------------------------

create or replace function app_hidden.lead_import_fields() returns text[]
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select array['email', 'name', 'first_name', 'last_name', 'company', 'title', 'phone', 'website', 'timezone', 'source'];
$$;
comment on function app_hidden.lead_import_fields() is 'The lead columns a CSV column can be mapped to (besides custom.<key>). Status and ownership are never imported. In app_hidden: the import validation trigger runs as the uploading member.';

create or replace function app_private.tg_lead_imports__validate() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_target text;
begin
  if new.contact_list_id is not null and exists (
    select 1 from app_public.contact_lists cl
    where cl.tenant_id = new.tenant_id and cl.id = new.contact_list_id and cl.is_dynamic
  ) then
    raise exception 'Leads can only be imported into a static list; this list is dynamic (its members come from its filter).'
      using errcode = 'INVAL';
  end if;
  if new.column_mapping is not null then
    if exists (select 1 from jsonb_each(new.column_mapping) m where jsonb_typeof(m.value) <> 'string') then
      raise exception 'The mapping must be an object of CSV column names to lead field names, all strings.' using errcode = 'INVAL';
    end if;
    for v_target in select m.value #>> '{}' from jsonb_each(new.column_mapping) m loop
      if new.target = 'suppressions' and not (v_target = any (app_hidden.suppression_import_fields())) then
        raise exception 'The mapping sends a column to "%"; a suppression list import has the columns %.',
          v_target, array_to_string(app_hidden.suppression_import_fields(), ' and ') using errcode = 'INVAL';
      elsif new.target = 'leads' and not (v_target = any (app_hidden.lead_import_fields()) or v_target ~ '^custom\.[a-z][a-z0-9_]{0,62}$') then
        raise exception 'The mapping sends a column to "%", which is not a lead field. Map columns to one of %, or custom.<key>.',
          v_target, array_to_string(app_hidden.lead_import_fields(), ', ') using errcode = 'INVAL';
      end if;
    end loop;
  end if;
  return new;
end;
$$;
comment on function app_private.tg_lead_imports__validate() is 'Refuses an import into a dynamic list and a column mapping to anything but an importable lead field or custom.<key> (for a suppression import: email or domain).';
create or replace trigger _200_validate
  before insert or update of contact_list_id, column_mapping on app_public.lead_imports
  for each row execute function app_private.tg_lead_imports__validate();

create or replace function app_private.tg_lead_imports__queue() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.add_job(new.tenant_id,
    'import_leads',
    json_build_object('tenant_id', new.tenant_id, 'import_id', new.id),
    job_key => 'import_leads:' || new.id::text,
    max_attempts => 3
  );
  return null;
end;
$$;
comment on function app_private.tg_lead_imports__queue() is 'Queues the import_leads job for a new pending import (it runs once the upload has committed).';
create or replace trigger _500_queue
  after insert on app_public.lead_imports
  for each row when (new.status = 'pending') execute function app_private.tg_lead_imports__queue();

create or replace function app_private.start_lead_import(tenant_id uuid, import_id uuid) returns app_public.lead_imports
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_import app_public.lead_imports;
  v_now timestamptz := now(); -- a value: Citus refuses now() inside coalesce in an UPDATE
begin
  update app_public.lead_imports i set status = 'processing', started_at = coalesce(i.started_at, v_now),
      total_rows = 0, imported_rows = 0, updated_rows = 0, skipped_rows = 0, errors = '[]'
    where i.tenant_id = start_lead_import.tenant_id and i.id = start_lead_import.import_id
      and i.status in ('pending', 'processing')
    returning * into v_import;
  return v_import;
end;
$$;
comment on function app_private.start_lead_import(uuid, uuid) is 'Marks an import as processing (a retry of an interrupted one starts over); null when it is already completed or failed.';

create or replace function app_private.report_lead_import_progress(tenant_id uuid, import_id uuid, rows_read integer) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  update app_public.lead_imports i set total_rows = rows_read
  where i.tenant_id = report_lead_import_progress.tenant_id and i.id = report_lead_import_progress.import_id and i.status = 'processing';
end;
$$;
comment on function app_private.report_lead_import_progress(uuid, uuid, integer) is 'Progress while the file loads: how many rows have been read so far (visible as totalRows).';

create or replace function app_private.record_lead_import_columns(tenant_id uuid, import_id uuid, unmapped text[]) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  update app_public.lead_imports i set unmapped_columns = coalesce(unmapped, '{}')
  where i.tenant_id = record_lead_import_columns.tenant_id and i.id = record_lead_import_columns.import_id;
end;
$$;
comment on function app_private.record_lead_import_columns(uuid, uuid, text[]) is 'Records the CSV columns no mapping, lead field or custom field definition claimed (kept as custom fields when keep_unmapped is on).';

create or replace function app_private.prepare_lead_import(tenant_id uuid, import_id uuid) returns app_public.lead_imports
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_import app_public.lead_imports;
begin
  -- (No row lock: progress updates on another connection must not wait for this transaction.)
  select i.* into v_import from app_public.lead_imports i
    where i.tenant_id = prepare_lead_import.tenant_id and i.id = prepare_lead_import.import_id;
  if v_import.id is null then
    raise exception 'There is no lead import %.', import_id using errcode = 'NTFND';
  end if;
  -- From here on the transaction acts as the member who uploaded the file:
  -- column defaults, triggers and the role check below see them.
  -- (Or as the API key that uploaded it, while it stays live: functions/052-api-keys.sql.)
  if v_import.api_key_id is not null then
    perform app_hidden.enter_api_key(v_import.api_key_id, v_import.tenant_id);
    perform app_hidden.require_api_scope('leads');
  else
    perform app_hidden.enter_request(v_import.created_by, v_import.tenant_id);
  end if;
  if not app_public.has_tenant_role('member') then
    raise exception 'The person who uploaded this file can no longer add leads to this organisation.' using errcode = 'DNIED';
  end if;
  create temporary table if not exists lead_import_rows (
    line integer not null,
    email text,
    name text,
    first_name text,
    last_name text,
    company text,
    title text,
    phone text,
    website text,
    timezone text,
    source text,
    domain text,
    custom_fields jsonb not null default '{}',
    existing_id uuid,
    error text
  ) on commit drop;
  truncate pg_temp.lead_import_rows;
  return v_import;
end;
$$;
comment on function app_private.prepare_lead_import(uuid, uuid) is 'Starts the import transaction: acts as the uploading member (who must still be a member or above) and creates the staging table pg_temp.lead_import_rows, whose columns are named like the leads columns they fill (and domain, for a suppression import).';

create or replace function app_private.domain_check_sql(domain regtype, expression text) returns text
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce(string_agg(
    '(' || regexp_replace(regexp_replace(pg_get_constraintdef(c.oid), '^CHECK ', ''), '\mVALUE\M', expression, 'g') || ')',
    ' and '), 'true')
  from pg_constraint c
  where c.contypid = domain and c.contype = 'c';
$$;
comment on function app_private.domain_check_sql(regtype, text) is 'The CHECK constraints of a domain as one SQL predicate over an expression: lets set-based code test values against the domain''s own rules without casting row by row.';

create or replace function app_private.complete_lead_import(tenant_id uuid, import_id uuid) returns app_public.lead_imports
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_import app_public.lead_imports;
  v_check record;
  v_total integer;
  v_imported integer;
  v_updated integer;
  v_errors jsonb;
  v_field_types jsonb;
begin
  select i.* into v_import from app_public.lead_imports i
    where i.tenant_id = complete_lead_import.tenant_id and i.id = complete_lead_import.import_id;
  analyze pg_temp.lead_import_rows;
  select count(*) into v_total from pg_temp.lead_import_rows;

  -- 1. Addresses: present, and valid by the email_address domain's own rules.
  update pg_temp.lead_import_rows s set error = 'The email address is missing.' where s.email is null;
  execute format(
    'update pg_temp.lead_import_rows s set error = format(%L, s.email) where s.error is null and not coalesce(%s, false)',
    '"%s" is not a valid email address.', app_private.domain_check_sql('app_public.email_address', 's.email'));

  -- 2. Every CHECK constraint of leads that only involves imported columns,
  --    evaluated on the staging rows (same column names).
  for v_check in
    select c.conname, pg_get_expr(c.conbin, c.conrelid) as expr,
           array(select a.attname from pg_attribute a where a.attrelid = c.conrelid and a.attnum = any (c.conkey) order by a.attnum) as columns
    from pg_constraint c
    where c.conrelid = 'app_public.leads'::regclass and c.contype = 'c'
      and not exists (
        select 1 from pg_attribute a where a.attrelid = c.conrelid and a.attnum = any (c.conkey)
          and not (a.attname = any (app_hidden.lead_import_fields() || array['custom_fields']))
      )
  loop
    execute format('update pg_temp.lead_import_rows s set error = %L where s.error is null and (%s) is false',
      format('%s is not allowed here: it must satisfy %s.', array_to_string(v_check.columns, ', '), v_check.expr), v_check.expr);
  end loop;

  -- 3. Custom fields with a definition must fit its type; values are stored typed.
  with bad as (
    select distinct on (s.line) s.line,
      format('Custom field %s must be %s; got "%s".', e.key,
        case d.field_type when 'number' then 'a number' when 'boolean' then 'true or false'
                          when 'date' then 'a date (YYYY-MM-DD)' else 'one of ' || array_to_string(d.options, ', ') end,
        e.value #>> '{}') as reason
    from pg_temp.lead_import_rows s
    cross join lateral jsonb_each(s.custom_fields) e
    join app_public.custom_field_definitions d on d.tenant_id = v_import.tenant_id and d.key = e.key
    where s.error is null and not case d.field_type
      when 'number' then (e.value #>> '{}') ~ '^-?[0-9]+(\.[0-9]+)?$'
      when 'boolean' then lower(e.value #>> '{}') in ('true', 'false', 'yes', 'no', '1', '0')
      when 'date' then (e.value #>> '{}') ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'
      when 'select' then (e.value #>> '{}') = any (d.options)
      else true
    end
    order by s.line, e.key
  )
  update pg_temp.lead_import_rows s set error = bad.reason from bad where s.line = bad.line;
  -- The definitions' types, read once (not joined per row: on Citus a
  -- temporary table is on the coordinator and the definitions on a worker).
  select coalesce(jsonb_object_agg(d.key, d.field_type), '{}') into v_field_types
    from app_public.custom_field_definitions d where d.tenant_id = v_import.tenant_id;
  update pg_temp.lead_import_rows s set custom_fields = (
      select coalesce(jsonb_object_agg(e.key, case v_field_types ->> e.key
          when 'number' then to_jsonb((e.value #>> '{}')::numeric)
          when 'boolean' then to_jsonb(lower(e.value #>> '{}') in ('true', 'yes', '1'))
          else e.value end), '{}')
      from jsonb_each(s.custom_fields) e)
    where s.error is null and s.custom_fields <> '{}';

  -- 4. The same address twice in the file: the first occurrence wins.
  update pg_temp.lead_import_rows s set error = format('Duplicate of line %s.', d.first_line)
    from (
      select r.line, first_value(r.line) over (partition by r.email::citext order by r.line) as first_line
      from pg_temp.lead_import_rows r where r.error is null
    ) d
    where s.line = d.line and d.line <> d.first_line;

  -- 5. Suppressed addresses and domains are never imported.
  --    (The message is built in a subquery: Citus refuses a stable call such
  --    as format() over columns in the SET of an UPDATE joined to a tenant table.)
  update pg_temp.lead_import_rows s set error = hit.message
    from (
      select distinct on (r.line) r.line, format('%s is on your suppression list (%s).', r.email, sup.reason) as message
      from pg_temp.lead_import_rows r
      join app_public.suppressions sup on sup.tenant_id = v_import.tenant_id
        and (sup.email = r.email::citext or sup.domain = split_part(r.email, '@', 2)::citext)
      where r.error is null
      order by r.line, sup.email nulls last
    ) hit
    where s.line = hit.line;

  -- 6. Upsert the valid rows in one statement (the contact limit is checked
  --    by the leads gauge trigger for the whole statement).
  update pg_temp.lead_import_rows s set existing_id = l.id
    from app_public.leads l
    where s.error is null and l.tenant_id = v_import.tenant_id and l.email = s.email::citext;
  -- Dynamic so that update_existing is a literal in ON CONFLICT … WHERE (Citus
  -- sends that clause to the worker nodes and cannot type a parameter there).
  execute format($upsert$
    insert into app_public.leads as l (tenant_id, email, name, first_name, last_name, company, title, phone, website, timezone,
        source, custom_fields, created_by)
      select $1, s.email, s.name, s.first_name, s.last_name, s.company, s.title, s.phone, s.website, s.timezone,
        coalesce(s.source, 'csv import'), s.custom_fields, $2
      from pg_temp.lead_import_rows s
      where s.error is null and (s.existing_id is null or %1$L::boolean)
      order by s.line
    on conflict (tenant_id, email) do update set
      name = coalesce(excluded.name, l.name),
      first_name = coalesce(excluded.first_name, l.first_name),
      last_name = coalesce(excluded.last_name, l.last_name),
      company = coalesce(excluded.company, l.company),
      title = coalesce(excluded.title, l.title),
      phone = coalesce(excluded.phone, l.phone),
      website = coalesce(excluded.website, l.website),
      timezone = coalesce(excluded.timezone, l.timezone),
      custom_fields = l.custom_fields || excluded.custom_fields
      where %1$L::boolean
  $upsert$, v_import.update_existing) using v_import.tenant_id, v_import.created_by;
  select count(*) filter (where s.existing_id is null), count(*) filter (where s.existing_id is not null and v_import.update_existing)
    into v_imported, v_updated
    from pg_temp.lead_import_rows s where s.error is null;

  -- 7. The static list gets every valid row's lead, new or existing.
  if v_import.contact_list_id is not null then
    insert into app_public.contact_list_members (tenant_id, list_id, lead_id)
      select v_import.tenant_id, v_import.contact_list_id, l.id
      from pg_temp.lead_import_rows s
      join app_public.leads l on l.tenant_id = v_import.tenant_id and l.email = s.email::citext
      where s.error is null
    on conflict do nothing;
  end if;

  update pg_temp.lead_import_rows s set error = 'A lead with this email already exists; it was left unchanged (updateExisting is off).'
    where s.error is null and s.existing_id is not null and not v_import.update_existing;
  select coalesce(jsonb_agg(jsonb_build_object('line', f.line, 'email', f.email, 'reason', f.error) order by f.line), '[]')
    into v_errors
    from (select r.line, r.email, r.error from pg_temp.lead_import_rows r where r.error is not null order by r.line limit 100) f;

  update app_public.lead_imports i set
      status = 'completed', total_rows = v_total, imported_rows = v_imported, updated_rows = v_updated,
      skipped_rows = v_total - v_imported - v_updated, errors = v_errors, failure_reason = null, finished_at = now()
    where i.tenant_id = v_import.tenant_id and i.id = v_import.id
    returning * into v_import;
  return v_import;
end;
$$;
comment on function app_private.complete_lead_import(uuid, uuid) is 'Validates the staged rows (email domain rules, the leads CHECK constraints, custom field types, duplicates, suppressions), upserts the valid ones into leads and the import''s static list, and records total/imported/updated/skipped counts and the first 100 row errors. Raises (and the caller rolls back) on anything that fails the whole import, such as the plan''s contact limit.';

create or replace function app_private.fail_lead_import(tenant_id uuid, import_id uuid, reason text) returns app_public.lead_imports
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_row app_public.lead_imports;
begin
  update app_public.lead_imports i set status = 'failed', failure_reason = left(coalesce(nullif(reason, ''), 'The import failed.'), 2000),
      imported_rows = 0, updated_rows = 0, finished_at = now()
  where i.tenant_id = fail_lead_import.tenant_id and i.id = fail_lead_import.import_id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_private.fail_lead_import(uuid, uuid, text) is 'Marks an import failed with the reason the user will see; its rows were rolled back.';
