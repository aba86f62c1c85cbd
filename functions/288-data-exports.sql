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
    raise exception 'Unknown export kind "%": use leads, suppressions or campaign_results.', coalesce(v_kind, '') using errcode = 'INVAL';
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
comment on function app_public.request_csv_export(text, uuid) is E'Exports one kind of the organisation''s data as a CSV file (members, admins and owners, signed in; not with an API key). kind: leads (one row per lead), suppressions (one row per suppressed address or domain) or campaign_results (one row per lead enrolled in the campaign given by campaignId). Follow status and rowsWritten/rowsTotal in tenantExports, then download it with GET /exports/<rowId> and your token until expiresAt (7 days). One export per kind at a time.';

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

create or replace function app_private.start_csv_export(tenant_id uuid, export_id uuid, rows_total bigint) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_now timestamptz := now();
begin
  -- A retried job starts over: a running export goes back to zero.
  update app_public.tenant_exports e
    set status = 'running', started_at = v_now, tables_total = 1, tables_done = 0, rows_written = 0, rows_total = start_csv_export.rows_total
    where e.tenant_id = start_csv_export.tenant_id and e.id = start_csv_export.export_id and e.status in ('queued', 'running');
  return found;
end;
$$;
comment on function app_private.start_csv_export(uuid, uuid, bigint) is 'The worker starts (or restarts) writing a CSV export of rows_total rows; false when it is no longer queued or running (nothing to do).';
