--------------------------------------------------------------------------------
-- CSV exports of leads, suppressions and one campaign's results
-- (docs/privacy.md "CSV exports"). They are rows of app_public.tenant_exports
-- (kind leads / suppressions / campaign_results, format csv) and follow the
-- organisation export's life (functions/287-tenant-export.sql):
--
--   requestCsvExport (member+) ──▶ queued ── tenant_export job ──▶ running ──▶ completed ── 7 days ──▶ expired
--                                                                    └──────▶ failed
--
-- The worker (workers/tenant-export.ts) counts the rows (rows_total) and
-- streams app_private.csv_export_rows(...) with COPY ... (format csv, header)
-- into PM_DATA_DIR/exports/<tenant>/<export>.csv, recording rows_written as it
-- goes; GET /exports/<id> serves it as text/csv. API keys are refused (as for
-- the organisation export): the download route authenticates users only.
--------------------------------------------------------------------------------

create or replace function app_private.may_export_csv(tenant_id uuid) returns boolean
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return tenant_id is not null and app_hidden.current_api_key_id() is null
     and tenant_id = app_public.current_tenant_id() and app_public.has_tenant_role('member');
end;
$$;
comment on function app_private.may_export_csv(uuid) is 'Whether the caller may request and download CSV exports (leads, suppressions, campaign results) of this organisation: a member, admin or owner acting in it, signed in (never an API key).';

create or replace function app_public.request_csv_export(kind text, campaign_id uuid default null) returns app_public.tenant_exports
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user_id uuid := app_public.current_user_id();
  v_kind text := request_csv_export.kind;
  v_campaign_id uuid := request_csv_export.campaign_id;
  v_active app_public.tenant_exports;
  v_export app_public.tenant_exports;
begin
  if app_hidden.current_api_key_id() is not null then
    raise exception 'An API key cannot export data as CSV; sign in as a member of the organisation.' using errcode = 'DNIED';
  end if;
  if not coalesce(app_private.may_export_csv(v_tenant_id), false) then
    raise exception 'Only members, admins and owners of the organisation can export its data as CSV.' using errcode = 'DNIED';
  end if;
  if v_kind is null or v_kind not in ('leads', 'suppressions', 'campaign_results') then
    raise exception 'A CSV export is of leads, suppressions or campaign_results, not "%"%.', coalesce(v_kind, ''),
      case when v_kind = 'tenant' then ' (the whole organisation is exported with requestTenantExport)' else '' end using errcode = 'INVAL';
  end if;
  if v_kind = 'campaign_results' and v_campaign_id is null then
    raise exception 'A campaign results export needs the campaignId of the campaign.' using errcode = 'INVAL';
  elsif v_kind <> 'campaign_results' and v_campaign_id is not null then
    raise exception 'Only a campaign_results export takes a campaignId.' using errcode = 'INVAL';
  end if;
  if v_campaign_id is not null and not exists (
      select 1 from app_public.campaigns c where c.tenant_id = v_tenant_id and c.id = v_campaign_id) then
    raise exception 'No campaign with that id in this organisation.' using errcode = 'NTFND';
  end if;
  select e.* into v_active from app_public.tenant_exports e
    where e.tenant_id = v_tenant_id and e.kind = v_kind and e.status in ('queued', 'running') limit 1;
  if v_active.id is not null then
    raise exception 'A % export of this organisation is already % (requested %); wait until it finishes.',
      v_kind, v_active.status, to_char(v_active.created at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"') using errcode = 'STATE';
  end if;
  -- Two requests at once: the partial unique index lets one in.
  insert into app_public.tenant_exports (tenant_id, requested_by, kind, format, campaign_id)
    values (v_tenant_id, v_user_id, v_kind, 'csv', v_campaign_id)
    on conflict (tenant_id, kind) where status in ('queued', 'running') do nothing
    returning * into v_export;
  if v_export.id is null then
    raise exception 'A % export of this organisation is already queued or running; wait until it finishes.', v_kind using errcode = 'STATE';
  end if;
  perform app_private.add_job(v_tenant_id, 'tenant_export', json_build_object('tenant_id', v_tenant_id, 'export_id', v_export.id),
                              job_key => 'tenant_export:' || v_export.id, max_attempts => 3);
  perform app_private.audit_tenant_export(v_tenant_id, v_export.id, 'tenant_export.requested',
                                          jsonb_build_object('kind', v_kind, 'campaign_id', v_campaign_id));
  return v_export;
end;
$$;
comment on function app_public.request_csv_export(text, uuid) is E'@enumArg kind tenant_exports.kind\nExports one kind of the organisation''s data as a CSV file (members, admins and owners, signed in; not with an API key). kind: LEADS (one row per lead), SUPPRESSIONS (one row per suppressed address or domain) or CAMPAIGN_RESULTS (one row per lead enrolled in the campaign given by campaignId); TENANT is the whole organisation''s export, requested with requestTenantExport. Follow status and rowsWritten/rowsTotal in tenantExports, then download it with GET /exports/<rowId> and your token until expiresAt (7 days). One export per kind at a time.';

create or replace function app_private.csv_export_total(tenant_id uuid, kind text, campaign_id uuid) returns bigint
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  if kind = 'leads' then
    return (select count(*) from app_public.leads l where l.tenant_id = csv_export_total.tenant_id);
  elsif kind = 'suppressions' then
    return (select count(*) from app_public.suppressions s where s.tenant_id = csv_export_total.tenant_id);
  elsif kind = 'campaign_results' then
    return (select count(*) from app_public.campaign_enrollments e
            where e.tenant_id = csv_export_total.tenant_id and e.campaign_id = csv_export_total.campaign_id);
  end if;
  raise exception 'unknown CSV export kind %', kind;
end;
$$;
comment on function app_private.csv_export_total(uuid, text, uuid) is 'How many rows a CSV export of this kind holds (read in the snapshot the worker writes it from).';

create or replace function app_private.csv_export_leads(tenant_id uuid)
  returns table (email text, first_name text, last_name text, name text, company text, title text, phone text, website text,
                 timezone text, status text, source text, custom_fields text, last_contacted_at timestamptz, created timestamptz, updated timestamptz)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return query
    select l.email::text, l.first_name, l.last_name, l.name, l.company, l.title, l.phone, l.website,
           l.timezone, l.status, l.source, l.custom_fields::text, l.last_contacted_at, l.created, l.updated
    from app_public.leads l
    where l.tenant_id = csv_export_leads.tenant_id
    order by l.created, l.id;
end;
$$;
comment on function app_private.csv_export_leads(uuid) is 'The rows of a leads CSV export: one per lead, oldest first; custom fields as one JSON object.';

create or replace function app_private.csv_export_suppressions(tenant_id uuid)
  returns table (email text, domain text, reason text, note text, created timestamptz)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return query
    select s.email::text, s.domain::text, s.reason, s.note, s.created
    from app_public.suppressions s
    where s.tenant_id = csv_export_suppressions.tenant_id
    order by s.created, s.id;
end;
$$;
comment on function app_private.csv_export_suppressions(uuid) is 'The rows of a suppressions CSV export: one per suppressed address (email) or domain (domain), oldest first.';

create or replace function app_private.csv_export_campaign_results(tenant_id uuid, campaign_id uuid)
  returns table (email text, first_name text, last_name text, company text, enrollment_status text, stop_reason text,
                 steps_completed integer, enrolled_at timestamptz, completed_at timestamptz,
                 messages_sent bigint, opened text, opens bigint, clicked text, clicks bigint, replied text,
                 bounced text, unsubscribed text, complained text, last_event_at timestamptz)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return query
    with sent as (
      select m.enrollment_id,
             count(*) filter (where m.sent_at is not null) as messages_sent,
             bool_or(m.opened_at is not null) as opened,
             bool_or(m.clicked_at is not null) as clicked,
             bool_or(m.replied_at is not null) as replied,
             bool_or(m.bounced_at is not null) as bounced
      from app_public.messages m
      where m.tenant_id = csv_export_campaign_results.tenant_id and m.campaign_id = csv_export_campaign_results.campaign_id
        and m.direction = 'outbound' and m.enrollment_id is not null
      group by m.enrollment_id
    ), events as (
      select m.enrollment_id,
             count(*) filter (where ev.event_type = 'open') as opens,
             count(*) filter (where ev.event_type = 'click') as clicks,
             bool_or(ev.event_type = 'reply') as replied,
             bool_or(ev.event_type = 'bounce') as bounced,
             bool_or(ev.event_type = 'unsubscribe') as unsubscribed,
             bool_or(ev.event_type = 'complaint') as complained,
             max(ev.created) as last_event_at
      from app_public.email_events ev
      join app_public.messages m on m.tenant_id = csv_export_campaign_results.tenant_id and m.id = ev.message_id
      where ev.tenant_id = csv_export_campaign_results.tenant_id and ev.campaign_id = csv_export_campaign_results.campaign_id
        and m.enrollment_id is not null
      group by m.enrollment_id
    )
    select l.email::text, l.first_name, l.last_name, l.company, e.status, e.stop_reason,
           e.steps_completed, e.enrolled_at, e.completed_at,
           coalesce(s.messages_sent, 0), (coalesce(s.opened, false) or coalesce(ev.opens, 0) > 0)::text, coalesce(ev.opens, 0),
           (coalesce(s.clicked, false) or coalesce(ev.clicks, 0) > 0)::text, coalesce(ev.clicks, 0),
           (coalesce(s.replied, false) or coalesce(ev.replied, false) or e.status = 'replied')::text,
           (coalesce(s.bounced, false) or coalesce(ev.bounced, false) or e.status = 'bounced')::text,
           (coalesce(ev.unsubscribed, false) or e.status = 'unsubscribed')::text,
           coalesce(ev.complained, false)::text, ev.last_event_at
    from app_public.campaign_enrollments e
    join app_public.leads l on l.tenant_id = csv_export_campaign_results.tenant_id and l.id = e.lead_id
    left join sent s on s.enrollment_id = e.id
    left join events ev on ev.enrollment_id = e.id
    where e.tenant_id = csv_export_campaign_results.tenant_id and e.campaign_id = csv_export_campaign_results.campaign_id
    order by e.enrolled_at, e.id;
end;
$$;
comment on function app_private.csv_export_campaign_results(uuid, uuid) is 'The rows of a campaign results CSV export: one per lead enrolled in the campaign, with its enrollment status, the campaign messages sent to it, whether (true/false) they were opened, clicked, replied to or bounced (from the messages, their events and the enrollment''s status), open and click counts, unsubscribes and complaints, and the time of its last event.';

-- A CSV export starts like an organisation export: app_private.start_tenant_export
-- with one table and its row total.
drop function if exists app_private.start_csv_export(uuid, uuid, bigint);

--------------------------------------------------------------------------------
-- Suppression list imports (docs/privacy.md "Importing a suppression list").
-- POST /imports/suppressions inserts a lead_imports row with target
-- 'suppressions' as the caller (members and above, or an API key with
-- leads:write, as for leads); the import_leads job loads the file into the
-- same staging table (prepare_lead_import, functions/071-lead-import.sql),
-- then complete_suppression_import adds the valid rows to the suppression
-- list. A row holds an email address or a domain (an "email" value without
-- an @ is taken as a domain; "@example.com" too); a suppressed domain covers
-- every address at it and at its subdomains (app_private.lead_block_reason).
--------------------------------------------------------------------------------

create or replace function app_hidden.suppression_import_fields() returns text[]
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select array['email', 'domain'];
$$;
comment on function app_hidden.suppression_import_fields() is 'The columns of a suppression list CSV: email and domain (either may be missing from the file, not both).';

create or replace function app_private.complete_suppression_import(tenant_id uuid, import_id uuid) returns app_public.lead_imports
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_import app_public.lead_imports;
  v_total integer;
  v_imported integer;
  v_errors jsonb;
  v_note text;
  v_now timestamptz := now();
begin
  select i.* into v_import from app_public.lead_imports i
    where i.tenant_id = complete_suppression_import.tenant_id and i.id = complete_suppression_import.import_id;
  if v_import.target is distinct from 'suppressions' then
    raise exception 'Import % is not a suppression list import.', import_id using errcode = 'STATE';
  end if;
  v_note := left(format('Imported from %s', v_import.file_name), 500);
  analyze pg_temp.lead_import_rows;
  select count(*) into v_total from pg_temp.lead_import_rows;

  -- 1. One value per row: an email address, or a domain (a bare domain in the
  --    email column, or "@example.com").
  update pg_temp.lead_import_rows s set domain = ltrim(s.email, '@'), email = null
    where s.domain is null and s.email is not null and (s.email !~ '@' or s.email ~ '^@[^@]+$');
  update pg_temp.lead_import_rows s set domain = ltrim(s.domain, '@') where s.domain like '@%';
  update pg_temp.lead_import_rows s set error = 'The row has neither an email address nor a domain.'
    where s.email is null and s.domain is null;
  update pg_temp.lead_import_rows s set error = 'The row has both an email address and a domain; put each on a row of its own.'
    where s.error is null and s.email is not null and s.domain is not null;
  execute format(
    'update pg_temp.lead_import_rows s set error = format(%L, s.email) where s.error is null and s.email is not null and not coalesce(%s, false)',
    '"%s" is not a valid email address.', app_private.domain_check_sql('app_public.email_address', 's.email'));
  execute format(
    'update pg_temp.lead_import_rows s set error = format(%L, s.domain) where s.error is null and s.domain is not null and not coalesce(%s, false)',
    '"%s" is not a valid domain (like example.com).', app_private.domain_check_sql('app_public.hostname', 's.domain::citext'));

  -- 2. The same address or domain twice in the file: the first occurrence wins.
  update pg_temp.lead_import_rows s set error = format('Duplicate of line %s.', d.first_line)
    from (
      select r.line, first_value(r.line) over (partition by lower(coalesce(r.email, '@' || r.domain)) order by r.line) as first_line
      from pg_temp.lead_import_rows r where r.error is null
    ) d
    where s.line = d.line and d.line <> d.first_line;

  -- 3. Already on the list: ignored. (The message is built in a subquery that
  --    DISTINCT ON keeps from being flattened into the UPDATE, as in
  --    complete_lead_import: Citus refuses format() over columns in its SET.)
  update pg_temp.lead_import_rows s set error = hit.message
    from (
      select distinct on (r.line) r.line, format('Already on your suppression list (%s).', sup.reason) as message
      from pg_temp.lead_import_rows r
      join app_public.suppressions sup on sup.tenant_id = v_import.tenant_id
        and (sup.email = r.email::citext or sup.domain = r.domain::citext)
      where r.error is null
      order by r.line
    ) hit
    where s.line = hit.line;

  -- 4. The new suppressions, in one statement.
  insert into app_public.suppressions (tenant_id, email, domain, reason, note)
    select v_import.tenant_id, s.email::citext, s.domain::citext, 'manual', v_note
    from pg_temp.lead_import_rows s
    where s.error is null
    order by s.line
  on conflict do nothing;
  get diagnostics v_imported = row_count;

  select coalesce(jsonb_agg(jsonb_build_object('line', f.line, 'email', coalesce(f.email, f.domain), 'reason', f.error) order by f.line), '[]')
    into v_errors
    from (select r.line, r.email, r.domain, r.error from pg_temp.lead_import_rows r where r.error is not null order by r.line limit 100) f;

  update app_public.lead_imports i set
      status = 'completed', total_rows = v_total, imported_rows = v_imported, updated_rows = 0,
      skipped_rows = v_total - v_imported, errors = v_errors, failure_reason = null, finished_at = v_now
    where i.tenant_id = v_import.tenant_id and i.id = v_import.id
    returning * into v_import;
  insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, table_name, record_id, changes)
    values (v_import.tenant_id, v_import.created_by, false, 'suppressions.imported', 'lead_imports', v_import.id::text,
            jsonb_build_object('file_name', v_import.file_name, 'total_rows', v_total, 'imported_rows', v_imported,
                               'skipped_rows', v_total - v_imported, 'api_key_id', v_import.api_key_id));
  return v_import;
end;
$$;
comment on function app_private.complete_suppression_import(uuid, uuid) is 'Validates the staged rows of a suppression list import (an email address or a domain per row, each valid by its domain type''s rules, duplicates in the file, values already suppressed), adds the valid ones to the suppression list (reason manual, note "Imported from <file>"), records total/imported/skipped counts and the first 100 row errors, and writes one audit entry (suppressions.imported).';
