--------------------------------------------------------------------------------
-- CRM: leads become deals, the activity timeline, soft delete and account
-- hierarchies (docs/crm.md).
--
-- The mutations are SECURITY DEFINER: each checks that the caller is a
-- member or above of the current tenant (DNIED otherwise; no API key reaches
-- the CRM) and touches that tenant's rows only. They return the row they
-- changed, so the API reads nothing else in their transaction (Citus: one
-- role per transaction and tenant).
--
-- The timeline triggers write one activities row per event, in the
-- transaction that records it, for the event's own tenant.
--------------------------------------------------------------------------------

create or replace function app_private.crm_tenant_for_change() returns uuid
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
begin
  if v_tenant_id is null or not app_public.has_tenant_role('member') then
    raise exception 'Only members, admins and owners of this organisation can change its CRM (deals, accounts, notes and tasks).'
      using errcode = 'DNIED';
  end if;
  perform app_hidden.require_api_scope('crm');
  return v_tenant_id;
end;
$$;
comment on function app_private.crm_tenant_for_change() is 'The current tenant, when the caller may change its CRM (member and above, signed in: no API key reaches the CRM); DNIED otherwise.';

create or replace function app_private.website_domain(website text) returns text
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select case when h ~ '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$' and length(h) <= 253 then h end
  from (select regexp_replace(regexp_replace(regexp_replace(lower(btrim(website)), '^[a-z][a-z0-9+.-]*://', ''), '[/?#:@].*$', ''), '^www\.', '') as h) x;
$$;
comment on function app_private.website_domain(text) is 'The host name of a website as written on a lead (https://www.acme.com/about → acme.com), null when it is not a valid host name.';

--------------------------------------------------------------------------------
-- Account hierarchies never loop.
--------------------------------------------------------------------------------

create or replace function app_private.tg_crm_accounts__no_cycle() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_parent uuid := new.parent_account_id;
  v_depth integer := 0;
begin
  -- Walk up from the new parent, one account at a time, within the row's
  -- tenant; meeting the account itself means the change would close a loop.
  while v_parent is not null and v_depth < 1000 loop
    if v_parent = new.id then
      raise exception 'Account "%" cannot be placed under one of its own sub-accounts (or itself): an account hierarchy cannot loop.', new.name
        using errcode = 'INVAL', column = 'parent_account_id';
    end if;
    select a.parent_account_id into v_parent from app_public.crm_accounts a
      where a.tenant_id = new.tenant_id and a.id = v_parent;
    v_depth := v_depth + 1;
  end loop;
  return new;
end;
$$;
comment on function app_private.tg_crm_accounts__no_cycle() is 'Trigger: refuses (INVAL) a parent_account_id that would make an account its own ancestor.';
create or replace trigger _200_no_cycle
  before insert or update of parent_account_id on app_public.crm_accounts
  for each row when (new.parent_account_id is not null)
  execute function app_private.tg_crm_accounts__no_cycle();

--------------------------------------------------------------------------------
-- The timeline: what the system records.
--------------------------------------------------------------------------------

create or replace function app_private.tg_email_events__activity() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_rows jsonb;
begin
  select jsonb_agg(jsonb_build_object(
      'tenant_id', e.tenant_id, 'lead_id', e.lead_id, 'message_id', e.message_id, 'occurred_at', e.created,
      'kind', case e.event_type when 'sent' then 'email_sent' when 'open' then 'email_opened' when 'click' then 'email_clicked'
                                when 'reply' then 'email_replied' when 'bounce' then 'email_bounced'
                                when 'unsubscribe' then 'email_unsubscribed' when 'complaint' then 'email_complained' end,
      'details', case e.event_type
                   when 'click' then jsonb_build_object('url', e.link_url)
                   when 'bounce' then jsonb_build_object('bounce_type', coalesce(e.metadata ->> 'bounce_type', 'hard'))
                   else '{}'::jsonb end))
    into v_rows
    from new_rows e
    where e.lead_id is not null
      and e.event_type in ('sent', 'open', 'click', 'reply', 'bounce', 'unsubscribe', 'complaint')
      and not (e.event_type in ('open', 'click') and coalesce(e.metadata ->> 'automated', 'false') = 'true');
  if v_rows is not null then
    insert into app_public.activities (tenant_id, kind, occurred_at, lead_id, message_id, details)
    select r.tenant_id, r.kind, r.occurred_at, r.lead_id, r.message_id, r.details
    from jsonb_to_recordset(v_rows) as r (tenant_id uuid, kind text, occurred_at timestamptz, lead_id uuid, message_id uuid, details jsonb);
  end if;
  return null;
end;
$$;
comment on function app_private.tg_email_events__activity() is 'The timeline of a message''s lead: one activity per email sent, opened, clicked, replied, bounced, unsubscribed or complained about (opens and clicks of automated clients are not activities). One insert per statement.';
create or replace trigger _800_activity
  after insert on app_public.email_events
  referencing new table as new_rows
  for each statement execute function app_private.tg_email_events__activity();

-- Row triggers (a column list and a WHEN clause keep every other update of
-- leads and deals free: PostgreSQL allows no transition table with a column
-- list).
create or replace function app_private.tg_leads__activity() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := app_public.current_user_id();
begin
  insert into app_public.activities (tenant_id, kind, lead_id, user_id, details)
    values (new.tenant_id, 'status_changed', new.id, v_user_id, jsonb_build_object('from', old.status, 'to', new.status));
  return null;
end;
$$;
comment on function app_private.tg_leads__activity() is 'The timeline of a lead: a status_changed activity ({"from", "to"}) when its status changes, with the signed-in user who changed it (null for the system).';
create or replace trigger _800_activity
  after update of status on app_public.leads
  for each row when (old.status is distinct from new.status)
  execute function app_private.tg_leads__activity();

create or replace function app_private.tg_deals__activity() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := app_public.current_user_id();
begin
  insert into app_public.activities (tenant_id, kind, deal_id, user_id, details)
    values (new.tenant_id, 'stage_changed', new.id, v_user_id, jsonb_build_object('from', old.stage, 'to', new.stage));
  return null;
end;
$$;
comment on function app_private.tg_deals__activity() is 'The timeline of a deal: a stage_changed activity ({"from", "to"}) when its stage changes, with the signed-in user who changed it.';
create or replace trigger _800_activity
  after update of stage on app_public.deals
  for each row when (old.stage is distinct from new.stage)
  execute function app_private.tg_deals__activity();

--------------------------------------------------------------------------------
-- Leads become deals.
--------------------------------------------------------------------------------

create or replace function app_public.convert_lead_to_deal(
  lead_id uuid,
  stage text default 'lead',
  title text default null,
  value numeric default null,
  currency text default 'USD',
  expected_close_date date default null
) returns app_public.deals
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_user_id uuid := app_public.current_user_id();
  v_stage text := coalesce(nullif(btrim(convert_lead_to_deal.stage), ''), 'lead');
  v_currency text := upper(coalesce(nullif(btrim(convert_lead_to_deal.currency), ''), 'USD'));
  v_title text := nullif(btrim(convert_lead_to_deal.title), '');
  v_close_date date;
  v_lead app_public.leads;
  v_existing app_public.deals;
  v_company text;
  v_domain text;
  v_account_id uuid;
  v_account_created boolean := false;
  v_owner uuid;
  v_new_status text;
  v_deal app_public.deals;
begin
  if convert_lead_to_deal.lead_id is null then
    raise exception 'Say which lead to convert (leadId).' using errcode = 'INVAL';
  end if;
  if v_stage not in ('lead', 'qualified', 'proposal', 'negotiation', 'won', 'lost') then
    raise exception 'Unknown deal stage "%"; use lead, qualified, proposal, negotiation, won or lost.', v_stage using errcode = 'INVAL';
  end if;
  if convert_lead_to_deal.value is not null and convert_lead_to_deal.value < 0 then
    raise exception 'A deal''s value cannot be negative.' using errcode = 'INVAL';
  end if;
  if convert_lead_to_deal.value is not null and convert_lead_to_deal.value >= 10000000000 then
    raise exception 'A deal''s value must be below 10,000,000,000.' using errcode = 'INVAL';
  end if;
  if v_currency !~ '^[A-Z]{3}$' then
    raise exception 'The currency must be a three-letter ISO 4217 code such as USD or EUR.' using errcode = 'INVAL';
  end if;
  if length(v_title) > 200 then
    raise exception 'A deal''s title is at most 200 characters.' using errcode = 'INVAL';
  end if;
  if v_stage in ('won', 'lost') then
    v_close_date := current_date;
  end if;

  -- The lead, locked: two conversions of one lead wait for each other, and
  -- the second finds the first one's deal.
  select l.* into v_lead from app_public.leads l
    where l.tenant_id = v_tenant_id and l.id = convert_lead_to_deal.lead_id
    for no key update;
  if v_lead.id is null then
    raise exception 'There is no lead % in this organisation.', convert_lead_to_deal.lead_id using errcode = 'NTFND';
  end if;
  select d.* into v_existing from app_public.deals d
    where d.tenant_id = v_tenant_id and d.primary_lead_id = v_lead.id and d.deleted_at is null
    order by d.created
    limit 1;
  if v_existing.id is not null then
    raise exception 'This lead was already converted into deal "%" (%); work on that deal, or delete it to convert the lead again.',
      v_existing.title, v_existing.id using errcode = 'STATE';
  end if;

  -- The account: the lead's own (when it is live), else the live account
  -- named like the lead's company (case-insensitive), else the one with the
  -- lead's website's domain, else a new one named after the company.
  v_company := nullif(btrim(v_lead.company), '');
  v_domain := app_private.website_domain(v_lead.website);
  if v_lead.crm_account_id is not null then
    select a.id into v_account_id from app_public.crm_accounts a
      where a.tenant_id = v_tenant_id and a.id = v_lead.crm_account_id and a.deleted_at is null;
  end if;
  if v_account_id is null and v_company is not null then
    select a.id into v_account_id from app_public.crm_accounts a
      where a.tenant_id = v_tenant_id and lower(a.name) = lower(v_company) and a.deleted_at is null
      order by a.created, a.id
      limit 1;
  end if;
  if v_account_id is null and v_domain is not null then
    select a.id into v_account_id from app_public.crm_accounts a
      where a.tenant_id = v_tenant_id and a.domain = v_domain::citext and a.deleted_at is null
      order by a.created, a.id
      limit 1;
  end if;
  if v_account_id is null and v_company is not null then
    insert into app_public.crm_accounts (tenant_id, name, domain, created_by)
      values (v_tenant_id, left(v_company, 255), v_domain::app_public.hostname, v_user_id)
      returning id into v_account_id;
    v_account_created := true;
  end if;

  -- The deal, owned by the member converting it (staff in an access session
  -- are not members: their deal has no owner).
  select tu.user_id into v_owner from app_public.tenant_users tu
    where tu.tenant_id = v_tenant_id and tu.user_id = v_user_id and tu.deleted_at is null;
  v_title := coalesce(v_title, left(coalesce(v_company, nullif(btrim(v_lead.name), ''),
                                             nullif(btrim(concat_ws(' ', v_lead.first_name, v_lead.last_name)), ''),
                                             v_lead.email::text), 200));
  insert into app_public.deals (tenant_id, title, value, currency, stage, primary_lead_id, crm_account_id, owner_user_id,
                                expected_close_date, actual_close_date, deal_source, created_by)
    values (v_tenant_id, v_title, convert_lead_to_deal.value, v_currency, v_stage, v_lead.id, v_account_id, v_owner,
            convert_lead_to_deal.expected_close_date, v_close_date, 'lead conversion', v_user_id)
    returning * into v_deal;
  insert into app_public.deal_contacts (tenant_id, deal_id, lead_id, created_by)
    values (v_tenant_id, v_deal.id, v_lead.id, v_user_id);

  -- The lead: linked to the account, and interested unless it may not be
  -- contacted (a suppressed lead keeps its status: it is never mailed again).
  v_new_status := case when v_lead.status in ('active', 'replied', 'not_interested') then 'interested' else v_lead.status end;
  if v_new_status is distinct from v_lead.status
     or (v_account_id is not null and v_lead.crm_account_id is distinct from v_account_id) then
    update app_public.leads l set status = v_new_status, crm_account_id = coalesce(v_account_id, l.crm_account_id)
      where l.tenant_id = v_tenant_id and l.id = v_lead.id;
  end if;

  insert into app_public.activities (tenant_id, kind, lead_id, deal_id, user_id, details)
    values (v_tenant_id, 'converted', v_lead.id, v_deal.id, v_user_id,
            jsonb_build_object('crm_account_id', v_account_id, 'account_created', v_account_created, 'stage', v_stage));
  return v_deal;
end;
$$;
comment on function app_public.convert_lead_to_deal(uuid, text, text, numeric, text, date) is E'@enumArg stage deals.stage\nTurns a lead into a deal: creates the deal (in stage, default lead; title defaults to the lead''s company or name; owned by you) with the lead as its primary contact (and in its deal contacts), finds the CRM account (the lead''s own, else the one named like the lead''s company, case-insensitive, else the one with its website''s domain) or creates it from the company name, links the lead to it, sets the lead''s status to interested (an unsubscribed, bounced, complained or do-not-contact lead keeps its status) and records a converted activity. A lead with a live deal it is the primary contact of cannot be converted again (CONFLICT naming that deal). NOT_FOUND for a lead not in your organisation. Members and above.';

--------------------------------------------------------------------------------
-- The timeline: notes and tasks.
--------------------------------------------------------------------------------

create or replace function app_private.crm_subject(tenant_id uuid, lead_id uuid, deal_id uuid) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  if lead_id is null and deal_id is null then
    raise exception 'Say which lead (leadId) or deal (dealId) this is about.' using errcode = 'INVAL';
  end if;
  if lead_id is not null and not exists (
    select 1 from app_public.leads l where l.tenant_id = crm_subject.tenant_id and l.id = crm_subject.lead_id
  ) then
    raise exception 'There is no lead % in this organisation.', lead_id using errcode = 'NTFND';
  end if;
  if deal_id is not null and not exists (
    select 1 from app_public.deals d where d.tenant_id = crm_subject.tenant_id and d.id = crm_subject.deal_id and d.deleted_at is null
  ) then
    raise exception 'There is no deal % in this organisation.', deal_id using errcode = 'NTFND';
  end if;
end;
$$;
comment on function app_private.crm_subject(uuid, uuid, uuid) is 'Checks that a note or task names a lead or a (live) deal of the tenant: INVAL when it names neither, NTFND when one is not there.';

create or replace function app_public.add_crm_note(body text, lead_id uuid default null, deal_id uuid default null)
  returns app_public.activities
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_user_id uuid := app_public.current_user_id();
  v_body text := nullif(btrim(add_crm_note.body), '');
  v_activity app_public.activities;
begin
  if v_body is null or length(v_body) > 10000 then
    raise exception 'A note needs a text of 1 to 10000 characters.' using errcode = 'INVAL';
  end if;
  perform app_private.crm_subject(v_tenant_id, add_crm_note.lead_id, add_crm_note.deal_id);
  insert into app_public.activities (tenant_id, kind, lead_id, deal_id, user_id, body)
    values (v_tenant_id, 'note', add_crm_note.lead_id, add_crm_note.deal_id, v_user_id, v_body)
    returning * into v_activity;
  return v_activity;
end;
$$;
comment on function app_public.add_crm_note(text, uuid, uuid) is 'Adds a note (1 to 10000 characters) to the timeline of a lead, a deal, or both. Members and above.';

create or replace function app_public.add_crm_task(
  title text, lead_id uuid default null, deal_id uuid default null, due_at timestamptz default null, body text default null
) returns app_public.activities
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_user_id uuid := app_public.current_user_id();
  v_title text := nullif(btrim(add_crm_task.title), '');
  v_body text := nullif(btrim(add_crm_task.body), '');
  v_activity app_public.activities;
begin
  if v_title is null or length(v_title) > 200 then
    raise exception 'A task needs a title of 1 to 200 characters.' using errcode = 'INVAL';
  end if;
  if length(v_body) > 10000 then
    raise exception 'A task''s text is at most 10000 characters.' using errcode = 'INVAL';
  end if;
  perform app_private.crm_subject(v_tenant_id, add_crm_task.lead_id, add_crm_task.deal_id);
  insert into app_public.activities (tenant_id, kind, lead_id, deal_id, user_id, title, body, due_at)
    values (v_tenant_id, 'task', add_crm_task.lead_id, add_crm_task.deal_id, v_user_id, v_title, v_body, add_crm_task.due_at)
    returning * into v_activity;
  return v_activity;
end;
$$;
comment on function app_public.add_crm_task(text, uuid, uuid, timestamptz, text) is 'Adds an open task (a title, optionally a due time and a text) to the timeline of a lead, a deal, or both. Members and above.';

create or replace function app_public.complete_crm_task(activity_id uuid, completed boolean default true)
  returns app_public.activities
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_activity app_public.activities;
  v_completed_at timestamptz := case when coalesce(complete_crm_task.completed, true) then now() end;
begin
  select a.* into v_activity from app_public.activities a
    where a.tenant_id = v_tenant_id and a.id = complete_crm_task.activity_id
    for no key update;
  if v_activity.id is null then
    raise exception 'There is no task % in this organisation.', activity_id using errcode = 'NTFND';
  end if;
  if v_activity.kind <> 'task' then
    raise exception 'Only tasks can be completed; this activity is a %.', v_activity.kind using errcode = 'STATE';
  end if;
  if (v_activity.completed_at is not null) = (v_completed_at is not null) then
    return v_activity;
  end if;
  update app_public.activities a set completed_at = v_completed_at
    where a.tenant_id = v_tenant_id and a.id = v_activity.id
    returning * into v_activity;
  return v_activity;
end;
$$;
comment on function app_public.complete_crm_task(uuid, boolean) is 'Marks a task completed now (or open again with completed: false); completing a completed task changes nothing. CONFLICT for an activity that is not a task. Members and above.';

--------------------------------------------------------------------------------
-- The timeline: reading it.
--------------------------------------------------------------------------------

create or replace function app_public.leads_timeline(lead app_public.leads) returns setof app_public.activities
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return query
    select a.* from app_public.activities a
    where a.tenant_id = lead.tenant_id and a.lead_id = lead.id
    order by a.occurred_at desc, a.id desc;
end;
$$;
comment on function app_public.leads_timeline(app_public.leads) is 'The lead''s activities, newest first: emails sent, opened, clicked, replied, bounced; status changes; its conversion; notes and tasks about it.';

create or replace function app_public.deals_timeline(deal app_public.deals) returns setof app_public.activities
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return query
    select a.* from app_public.activities a
    where a.tenant_id = deal.tenant_id
      and (a.deal_id = deal.id
           or (a.deal_id is null and a.lead_id in (
                 select dc.lead_id from app_public.deal_contacts dc where dc.tenant_id = deal.tenant_id and dc.deal_id = deal.id
                 union all
                 select deal.primary_lead_id)))
    order by a.occurred_at desc, a.id desc;
end;
$$;
comment on function app_public.deals_timeline(app_public.deals) is 'The deal''s activities, newest first: its conversion, stage changes, notes and tasks, and the activities of its primary contact and deal contacts that concern no other deal (their emails, status changes, notes).';

--------------------------------------------------------------------------------
-- Soft delete: deleted deals and accounts are hidden from the API
-- (policies/070-crm.sql) and come back through restore.
--------------------------------------------------------------------------------

create or replace function app_public.soft_delete_deal(row_id uuid) returns app_public.deals
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_now timestamptz := now();
  v_deal app_public.deals;
begin
  update app_public.deals d set deleted_at = v_now
    where d.tenant_id = v_tenant_id and d.id = soft_delete_deal.row_id and d.deleted_at is null
    returning * into v_deal;
  if v_deal.id is null then
    raise exception 'There is no deal % in this organisation (or it is already deleted).', row_id using errcode = 'NTFND';
  end if;
  return v_deal;
end;
$$;
comment on function app_public.soft_delete_deal(uuid) is 'Deletes a deal softly: the deal is no longer returned by any query of the API (lists, lookups, relations) and restoreDeal brings it back within 30 days; nothing is removed until then (its deal contacts and activities stay as they are), after that the daily retention job deletes it with them. NOT_FOUND when there is no such live deal. Members and above.';

create or replace function app_public.restore_deal(row_id uuid) returns app_public.deals
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_deal app_public.deals;
begin
  select d.* into v_deal from app_public.deals d
    where d.tenant_id = v_tenant_id and d.id = restore_deal.row_id
    for no key update;
  if v_deal.id is null then
    raise exception 'There is no deal % in this organisation.', row_id using errcode = 'NTFND';
  end if;
  if v_deal.deleted_at is null then
    raise exception 'Deal "%" is not deleted.', v_deal.title using errcode = 'STATE';
  end if;
  if v_deal.primary_lead_id is not null and exists (
    select 1 from app_public.deals d
    where d.tenant_id = v_tenant_id and d.primary_lead_id = v_deal.primary_lead_id and d.deleted_at is null
  ) then
    raise exception 'Its lead was converted again since this deal was deleted; delete that deal first to restore this one.' using errcode = 'STATE';
  end if;
  update app_public.deals d set deleted_at = null
    where d.tenant_id = v_tenant_id and d.id = v_deal.id
    returning * into v_deal;
  return v_deal;
end;
$$;
comment on function app_public.restore_deal(uuid) is 'Brings back a deal deleted less than 30 days ago. CONFLICT when it is not deleted, or when its lead has another live deal (converted again since). Members and above.';

create or replace function app_public.soft_delete_crm_account(row_id uuid) returns app_public.crm_accounts
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_now timestamptz := now();
  v_account app_public.crm_accounts;
begin
  update app_public.crm_accounts a set deleted_at = v_now
    where a.tenant_id = v_tenant_id and a.id = soft_delete_crm_account.row_id and a.deleted_at is null
    returning * into v_account;
  if v_account.id is null then
    raise exception 'There is no CRM account % in this organisation (or it is already deleted).', row_id using errcode = 'NTFND';
  end if;
  return v_account;
end;
$$;
comment on function app_public.soft_delete_crm_account(uuid) is 'Deletes a CRM account softly: the account is no longer returned by any query of the API (lists, lookups, relations), its deals, leads and sub-accounts keep their link to it, and restoreCrmAccount brings it back within 30 days; after that the daily retention job deletes it (the links are cleared). NOT_FOUND when there is no such live account. Members and above.';

create or replace function app_public.restore_crm_account(row_id uuid) returns app_public.crm_accounts
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_account app_public.crm_accounts;
begin
  select a.* into v_account from app_public.crm_accounts a
    where a.tenant_id = v_tenant_id and a.id = restore_crm_account.row_id
    for no key update;
  if v_account.id is null then
    raise exception 'There is no CRM account % in this organisation.', row_id using errcode = 'NTFND';
  end if;
  if v_account.deleted_at is null then
    raise exception 'Account "%" is not deleted.', v_account.name using errcode = 'STATE';
  end if;
  update app_public.crm_accounts a set deleted_at = null
    where a.tenant_id = v_tenant_id and a.id = v_account.id
    returning * into v_account;
  return v_account;
end;
$$;
comment on function app_public.restore_crm_account(uuid) is 'Brings back a CRM account deleted less than 30 days ago. CONFLICT when it is not deleted. Members and above.';
