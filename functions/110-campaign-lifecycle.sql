--------------------------------------------------------------------------------
-- Sending engine, part 2: the campaign lifecycle.
--
--   draft ──start──▶ scheduled ──(its time comes)──▶ sending ──(all done)──▶ completed
--     │                 │  ▲                          │  ▲
--     │                 ▼  │ resume                   ▼  │ resume
--     │               paused ◀────────pause──────────────┘
--     └──────────────▶ cancelled ◀── cancel (from any state but completed)
--
-- Status changes only through these functions (members have no UPDATE grant
-- on campaigns.status; a trigger refuses illegal transitions even for the
-- owner). Starting validates the whole campaign and names every problem at
-- once. The audience (target lists and leads, minus anyone unsubscribed,
-- bounced, complained, do-not-contact or suppressed) becomes enrollments when
-- sending begins; each enrollment gets its own job (part 3). New members of a
-- target list are enrolled when the campaign resumes and by the periodic
-- campaign_housekeeping task while it is sending. A campaign completes when no
-- enrollment is left active.
--
-- Row locks are FOR NO KEY UPDATE throughout the engine: inserting a message
-- or an event takes FOR KEY SHARE on the campaign, enrollment and message it
-- references, and must not wait for (or deadlock with) a lifecycle change.
--------------------------------------------------------------------------------

create or replace function app_private.campaign_status_transition_allowed(from_status text, to_status text) returns boolean
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select case from_status
    when 'draft' then to_status in ('scheduled', 'sending', 'cancelled')
    when 'scheduled' then to_status in ('sending', 'paused', 'cancelled')
    when 'sending' then to_status in ('paused', 'completed', 'cancelled')
    when 'paused' then to_status in ('scheduled', 'sending', 'completed', 'cancelled')
    else false
  end;
$$;
comment on function app_private.campaign_status_transition_allowed(text, text) is 'The campaign state machine: which status may follow which.';

create or replace function app_private.tg_campaigns__status_transition() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if new.status is distinct from old.status
     and not app_private.campaign_status_transition_allowed(old.status, new.status) then
    raise exception 'Campaign "%" cannot go from % to %.', old.name, old.status, new.status using errcode = 'STATE';
  end if;
  if new.status <> 'paused' then
    new.paused_by := null;
    new.pause_reason := null;
  end if;
  return new;
end;
$$;
comment on function app_private.tg_campaigns__status_transition() is 'Refuses campaign status changes the state machine does not allow, and clears the pause fields when a campaign leaves paused.';
create or replace trigger _200_status_transition
  before update of status on app_public.campaigns
  for each row execute function app_private.tg_campaigns__status_transition();

--------------------------------------------------------------------------------
-- Audience.
--------------------------------------------------------------------------------

create or replace function app_private.domain_suffixes(domain text) returns text[]
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select array(
    select array_to_string((string_to_array(lower(domain), '.'))[i:], '.')
    from generate_subscripts(string_to_array(domain, '.'), 1) i
  );
$$;
comment on function app_private.domain_suffixes(text) is 'A domain and each of its parents (a.b.example.com, b.example.com, example.com, com): a suppressed domain covers its subdomains.';

create or replace function app_private.lead_block_reason(tenant_id uuid, email text, status text) returns text
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return (
  select case
    when lead_block_reason.status in ('unsubscribed', 'bounced', 'complained', 'do_not_contact')
      then format('the lead is %s', replace(lead_block_reason.status, '_', '-'))
    when exists (select 1 from app_public.suppressions s
                 where s.tenant_id = lead_block_reason.tenant_id and s.email = lead_block_reason.email::citext)
      then format('%s is on the suppression list', lead_block_reason.email)
    -- An address erased by a privacy request is suppressed by its salted hash (functions/280-privacy.sql).
    when exists (select 1 from app_public.suppressions s
                 join app_private.privacy_salts ps on ps.tenant_id = lead_block_reason.tenant_id
                 where s.tenant_id = lead_block_reason.tenant_id
                   and s.email = (encode(sha256(ps.salt || convert_to(lower(lead_block_reason.email), 'UTF8')), 'hex') || '@erased.invalid')::citext)
      then format('%s is on the suppression list', lead_block_reason.email)
    when exists (select 1 from app_public.suppressions s
                 where s.tenant_id = lead_block_reason.tenant_id
                   and s.domain = any (app_private.domain_suffixes(split_part(lead_block_reason.email, '@', 2))::citext[]))
      then format('the domain of %s is on the suppression list', lead_block_reason.email)
  end
  );
end;
$$;
comment on function app_private.lead_block_reason(uuid, text, text) is 'Why a lead must not be emailed (its status, or its address, the salted hash of an erased address, or its domain is suppressed); null when it may be.';

create or replace function app_private.campaign_audience(tenant_id uuid, campaign_id uuid)
  returns table (lead_id uuid, block_reason text)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return query
  with targeted as (
    select t.lead_id
    from app_public.campaign_targets t
    where t.tenant_id = campaign_audience.tenant_id and t.campaign_id = campaign_audience.campaign_id and t.lead_id is not null
    union
    select l.id
    from app_public.campaign_targets t
    join app_public.contact_lists cl on cl.tenant_id = t.tenant_id and cl.id = t.contact_list_id
    -- A row argument is spelled row(cl.*)::type: on a Citus shard cl is a row of contact_lists_<shard>.
    cross join lateral app_public.contact_lists_leads(row(cl.*)::app_public.contact_lists) l
    where t.tenant_id = campaign_audience.tenant_id and t.campaign_id = campaign_audience.campaign_id
  )
  select l.id, app_private.lead_block_reason(l.tenant_id, l.email::text, l.status)
  from targeted x
  join app_public.leads l on l.tenant_id = campaign_audience.tenant_id and l.id = x.lead_id;
end;
$$;
comment on function app_private.campaign_audience(uuid, uuid) is 'Every lead a campaign targets (its leads and the members of its static and dynamic lists, once each) with the reason it may not be emailed, or null.';

create or replace function app_private.enroll_campaign_audience(tenant_id uuid, campaign_id uuid) returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_first_step integer;
  v_ids uuid[];
begin
  select min(s.step_order) into v_first_step from app_public.campaign_sequence_steps s
    where s.tenant_id = enroll_campaign_audience.tenant_id and s.campaign_id = enroll_campaign_audience.campaign_id and s.is_active;
  with enrolled as (
    insert into app_public.campaign_enrollments (tenant_id, campaign_id, lead_id, status, current_step_order, enrolled_at)
    select enroll_campaign_audience.tenant_id, enroll_campaign_audience.campaign_id, a.lead_id, 'active',
           coalesce(v_first_step, 1), app_private.engine_now()
    from app_private.campaign_audience(enroll_campaign_audience.tenant_id, enroll_campaign_audience.campaign_id) a
    where a.block_reason is null
    on conflict (tenant_id, campaign_id, lead_id) do nothing
    returning id
  )
  select coalesce(array_agg(id), '{}') into v_ids from enrolled;
  perform app_private.schedule_enrollments(tenant_id, v_ids);
  return cardinality(v_ids);
end;
$$;
comment on function app_private.enroll_campaign_audience(uuid, uuid) is 'Enrolls every eligible targeted lead not yet enrolled (a lead is enrolled once per campaign) and schedules its first step now. Returns how many were enrolled.';

--------------------------------------------------------------------------------
-- Validation: everything that keeps a campaign from sending, in words.
--------------------------------------------------------------------------------

create or replace function app_private.inbox_unusable_reason(tenant_id uuid, email_account_id uuid) returns text
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_reason text;
begin
  -- Every table, subqueries included, is named with the tenant argument: on
  -- Citus that makes this one shard's query (a correlated d.tenant_id would not).
  select case
    when ea.status <> 'active' then format('inbox %s is %s', ea.email, ea.status) || coalesce(' (' || ea.pause_reason || ')', '')
    when d.verification_status <> 'verified' then format('the domain %s of inbox %s is not verified (%s)', d.domain, ea.email, d.verification_status)
    when not exists (select 1 from app_private.domain_dkim_keys k
                     where k.tenant_id = inbox_unusable_reason.tenant_id and k.domain_id = d.id and k.selector = d.dkim_selector)
      then format('the domain %s has no DKIM key for selector "%s"', d.domain, d.dkim_selector)
    when coalesce(ea.smtp_settings ->> 'host', '') = '' then format('inbox %s has no SMTP host in its settings', ea.email)
    when coalesce(ea.smtp_settings ->> 'username', '') <> ''
         and not exists (select 1 from app_private.email_account_credentials cr
                         where cr.tenant_id = inbox_unusable_reason.tenant_id and cr.email_account_id = ea.id
                           and cr.smtp_password_encrypted is not null)
      then format('inbox %s has an SMTP username but no password (set it with setEmailAccountCredentials)', ea.email)
  end
  into v_reason
  from app_public.email_accounts ea
  left join app_public.domains d on d.tenant_id = ea.tenant_id and d.id = ea.domain_id
  where ea.tenant_id = inbox_unusable_reason.tenant_id and ea.id = inbox_unusable_reason.email_account_id;
  if not found then
    return 'the inbox does not exist';
  end if;
  return v_reason;
end;
$$;
comment on function app_private.inbox_unusable_reason(uuid, uuid) is 'Why an inbox cannot send campaign mail (not active, domain not verified, no DKIM key, no SMTP host, missing password); null when it can.';

create or replace function app_private.campaign_start_problems(tenant_id uuid, campaign_id uuid) returns text[]
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_campaign app_public.campaigns;
  v_problems text[] := '{}';
  v_reasons text[];
  v_usable integer;
  v_targets integer;
  v_targeted integer;
  v_eligible integer;
  v_step record;
  v_target integer;
begin
  select c.* into v_campaign from app_public.campaigns c
    where c.tenant_id = campaign_start_problems.tenant_id and c.id = campaign_start_problems.campaign_id;

  if not app_private.is_time_zone(v_campaign.timezone) then
    v_problems := v_problems || format('The campaign time zone "%s" is unknown; use a name such as Europe/Paris.', v_campaign.timezone);
  end if;

  -- Inboxes.
  select count(*) filter (where app_private.inbox_unusable_reason(a.tenant_id, a.email_account_id) is null),
         array_agg(app_private.inbox_unusable_reason(a.tenant_id, a.email_account_id) order by a.created)
    into v_usable, v_reasons
    from app_public.campaign_email_accounts a
    where a.tenant_id = campaign_start_problems.tenant_id and a.campaign_id = campaign_start_problems.campaign_id;
  if v_reasons is null then
    v_problems := v_problems || 'Add at least one inbox to send from.'::text;
  elsif v_usable = 0 then
    v_problems := v_problems || format('No inbox can send: %s.', array_to_string(v_reasons, '; '));
  end if;

  -- Steps.
  if not exists (select 1 from app_public.campaign_sequence_steps s
                 where s.tenant_id = campaign_start_problems.tenant_id and s.campaign_id = campaign_start_problems.campaign_id and s.is_active) then
    v_problems := v_problems || 'Add at least one step to the sequence.'::text;
  elsif not exists (select 1 from app_public.campaign_sequence_steps s
                    where s.tenant_id = campaign_start_problems.tenant_id and s.campaign_id = campaign_start_problems.campaign_id
                      and s.is_active and s.step_type = 'email') then
    v_problems := v_problems || 'The sequence has no email step.'::text;
  end if;
  for v_step in
    select s.*, t.name as template_name, t.subject as template_subject, t.content as template_content, t.is_archived,
           -- Every variant (and there is one) brings its own subject, or its own body.
           coalesce((select bool_and(v.subject is not null) from app_public.campaign_step_variants v
                     where v.tenant_id = campaign_start_problems.tenant_id and v.step_id = s.id), false) as variants_have_subjects,
           coalesce((select bool_and(v.body_html is not null) from app_public.campaign_step_variants v
                     where v.tenant_id = campaign_start_problems.tenant_id and v.step_id = s.id), false) as variants_have_bodies
    from app_public.campaign_sequence_steps s
    left join app_public.templates t on t.tenant_id = s.tenant_id and t.id = s.template_id
    where s.tenant_id = campaign_start_problems.tenant_id and s.campaign_id = campaign_start_problems.campaign_id and s.is_active
    order by s.step_order
  loop
    if v_step.step_type = 'email' then
      if coalesce(btrim(v_step.template_content), '') = '' and not v_step.variants_have_bodies then
        v_problems := v_problems || format('Step %s: template "%s" has no HTML body.', v_step.step_order, v_step.template_name);
      end if;
      if coalesce(btrim(v_step.template_subject), '') = '' and coalesce(btrim(v_step.subject_override), '') = '' and not v_step.variants_have_subjects then
        v_problems := v_problems || format('Step %s: template "%s" has no subject; give the template a subject or set a subject override on the step.',
          v_step.step_order, v_step.template_name);
      end if;
      if v_step.is_archived then
        v_problems := v_problems || format('Step %s: template "%s" is archived.', v_step.step_order, v_step.template_name);
      end if;
      if v_step.email_account_id is not null
         and app_private.inbox_unusable_reason(v_step.tenant_id, v_step.email_account_id) is not null then
        v_problems := v_problems || format('Step %s sends from an inbox that cannot send: %s.', v_step.step_order,
          app_private.inbox_unusable_reason(v_step.tenant_id, v_step.email_account_id));
      end if;
    elsif v_step.step_type = 'condition' and v_step.condition_value ~ '^[0-9]+$' then
      v_target := v_step.condition_value::integer;
      if v_target <= v_step.step_order then
        v_problems := v_problems || format('Step %s jumps back to step %s; jumps must go forward.', v_step.step_order, v_target);
      elsif not exists (select 1 from app_public.campaign_sequence_steps s
                        where s.tenant_id = v_step.tenant_id and s.campaign_id = v_step.campaign_id and s.step_order = v_target and s.is_active) then
        v_problems := v_problems || format('Step %s jumps to step %s, which does not exist.', v_step.step_order, v_target);
      end if;
    end if;
  end loop;

  -- Audience.
  select count(*) into v_targets from app_public.campaign_targets t
    where t.tenant_id = campaign_start_problems.tenant_id and t.campaign_id = campaign_start_problems.campaign_id;
  if v_targets = 0 then
    v_problems := v_problems || 'Add an audience: at least one contact list or lead as a campaign target.'::text;
  else
    select count(*), count(*) filter (where a.block_reason is null) into v_targeted, v_eligible
      from app_private.campaign_audience(campaign_start_problems.tenant_id, campaign_start_problems.campaign_id) a;
    if v_targeted = 0 then
      v_problems := v_problems || 'The audience is empty: the targeted lists have no leads.'::text;
    elsif v_eligible = 0 then
      v_problems := v_problems || format('The audience is empty: all %s targeted leads are unsubscribed, bounced, complained, do-not-contact or suppressed.', v_targeted);
    end if;
  end if;
  return v_problems;
end;
$$;
comment on function app_private.campaign_start_problems(uuid, uuid) is 'Everything that keeps a campaign from starting, one sentence each (empty when it may start).';

create or replace function app_private.campaign_limit_problem(tenant_id uuid) returns text
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_plan text;
  v_limit bigint;
  v_used bigint;
begin
  select l.plan_name, l.limit_value into v_plan, v_limit from app_private.effective_limit(tenant_id, 'campaigns_started') l;
  if v_limit is null then
    return null;
  end if;
  v_used := app_private.metered_usage(tenant_id, 'campaigns_started');
  if v_used + 1 > v_limit then
    return app_private.limit_exceeded_message(v_plan, 'campaigns_started', v_limit, v_used);
  end if;
  return null;
end;
$$;
comment on function app_private.campaign_limit_problem(uuid) is 'The plan-limit message when one more campaign start would exceed the plan, else null (a read-only look; consume_usage decides).';

--------------------------------------------------------------------------------
-- Transitions.
--------------------------------------------------------------------------------

create or replace function app_private.lock_campaign_for_change(campaign_id uuid) returns app_public.campaigns
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_campaign app_public.campaigns;
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('campaigns');
  if v_tenant_id is null or not app_public.has_tenant_role('member') then
    raise exception 'Only members, admins and owners of this organisation can start, pause, resume or cancel campaigns.' using errcode = 'DNIED';
  end if;
  select c.* into v_campaign from app_public.campaigns c
    where c.tenant_id = v_tenant_id and c.id = lock_campaign_for_change.campaign_id
    for no key update;
  if v_campaign.id is null then
    raise exception 'There is no campaign % in this organisation.', campaign_id using errcode = 'NTFND';
  end if;
  return v_campaign;
end;
$$;
comment on function app_private.lock_campaign_for_change(uuid) is 'Checks that the caller may change campaigns (member and above) and locks the campaign of the current tenant; NTFND when there is none.';

create or replace function app_private.begin_campaign(tenant_id uuid, campaign_id uuid) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_now timestamptz := app_private.engine_now(); -- a value: Citus refuses a function call inside coalesce in an UPDATE
begin
  update app_public.campaigns c set status = 'sending', started_at = coalesce(c.started_at, v_now)
    where c.tenant_id = begin_campaign.tenant_id and c.id = begin_campaign.campaign_id;
  perform app_private.enroll_campaign_audience(tenant_id, campaign_id);
  perform app_private.complete_campaign_if_done(tenant_id, campaign_id);
end;
$$;
comment on function app_private.begin_campaign(uuid, uuid) is 'Puts a campaign into sending: enrolls its audience and schedules each enrollment''s first step.';

create or replace function app_private.queue_campaign_start(tenant_id uuid, campaign_id uuid, at timestamptz) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.add_job(tenant_id, 'campaign_start',
    json_build_object('tenant_id', tenant_id, 'campaign_id', campaign_id),
    run_at => app_private.engine_run_at(greatest(coalesce(at, app_private.engine_now()), app_private.engine_now())),
    job_key => 'campaign_start:' || campaign_id::text, max_attempts => 10);
end;
$$;
comment on function app_private.queue_campaign_start(uuid, uuid, timestamptz) is 'Queues (or moves) the job that starts a scheduled campaign at an engine time (now when that time has passed).';

create or replace function app_public.start_campaign(campaign_id uuid) returns app_public.campaigns
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_campaign app_public.campaigns := app_private.lock_campaign_for_change(campaign_id);
  v_problems text[];
  v_limit text;
begin
  if v_campaign.status = 'paused' then
    raise exception 'Campaign "%" is paused; resume it instead of starting it again.', v_campaign.name using errcode = 'STATE';
  elsif v_campaign.status <> 'draft' then
    raise exception 'Campaign "%" is %; only a draft campaign can be started.', v_campaign.name, v_campaign.status using errcode = 'STATE';
  end if;
  v_problems := app_private.campaign_start_problems(v_campaign.tenant_id, v_campaign.id);
  if cardinality(v_problems) > 0 then
    v_limit := app_private.campaign_limit_problem(v_campaign.tenant_id);
    if v_limit is not null then
      v_problems := v_problems || v_limit;
    end if;
    raise exception 'Campaign "%" cannot start: %', v_campaign.name, array_to_string(v_problems, ' ')
      using errcode = 'INVAL', detail = to_json(v_problems)::text;
  end if;
  perform app_private.consume_usage(v_campaign.tenant_id, 'campaigns_started', 1);

  update app_public.templates t set is_started = true
    where t.tenant_id = v_campaign.tenant_id and not t.is_started
      and t.id in (select s.template_id from app_public.campaign_sequence_steps s
                   where s.tenant_id = v_campaign.tenant_id and s.campaign_id = v_campaign.id);

  if v_campaign.scheduled_for is not null and v_campaign.scheduled_for > app_private.engine_now() then
    update app_public.campaigns c set status = 'scheduled'
      where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
    perform app_private.queue_campaign_start(v_campaign.tenant_id, v_campaign.id, v_campaign.scheduled_for);
  else
    perform app_private.begin_campaign(v_campaign.tenant_id, v_campaign.id);
  end if;
  select c.* into v_campaign from app_public.campaigns c where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
  return v_campaign;
end;
$$;
comment on function app_public.start_campaign(uuid) is 'Starts a draft campaign: checks that it can send (inboxes with a verified domain and DKIM key, an email step with a template and a subject, a non-empty audience, the plan''s campaign starts) and names every problem at once; counts a campaign start against the plan; then sends now, or at `scheduled` when that is in the future.';

create or replace function app_private.start_scheduled_campaign(tenant_id uuid, campaign_id uuid) returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_status text;
begin
  select c.status into v_status from app_public.campaigns c
    where c.tenant_id = start_scheduled_campaign.tenant_id and c.id = start_scheduled_campaign.campaign_id
    for no key update;
  if v_status is distinct from 'scheduled' then
    -- Paused or cancelled in the meantime: resume_campaign takes it from there.
    return coalesce(v_status, 'missing');
  end if;
  if (select c.scheduled_for from app_public.campaigns c
      where c.tenant_id = start_scheduled_campaign.tenant_id and c.id = start_scheduled_campaign.campaign_id) > app_private.engine_now() then
    return 'scheduled'; -- moved later meanwhile; its job was moved too
  end if;
  perform app_private.begin_campaign(tenant_id, campaign_id);
  return 'sending';
end;
$$;
comment on function app_private.start_scheduled_campaign(uuid, uuid) is 'The campaign_start job: a scheduled campaign whose time has come starts sending (nothing happens if it was paused or cancelled meanwhile).';

create or replace function app_private.tg_campaigns__reschedule_start() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if new.status = 'scheduled' and new.scheduled_for is distinct from old.scheduled_for then
    perform app_private.queue_campaign_start(new.tenant_id, new.id, new.scheduled_for);
  end if;
  return null;
end;
$$;
comment on function app_private.tg_campaigns__reschedule_start() is 'When the start time of a scheduled campaign is edited, its start job moves with it.';
create or replace trigger _510_reschedule_start
  after update of scheduled_for on app_public.campaigns
  for each row execute function app_private.tg_campaigns__reschedule_start();

create or replace function app_public.pause_campaign(campaign_id uuid) returns app_public.campaigns
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_campaign app_public.campaigns := app_private.lock_campaign_for_change(campaign_id);
begin
  if v_campaign.status = 'paused' then
    raise exception 'Campaign "%" is already paused.', v_campaign.name using errcode = 'STATE';
  elsif v_campaign.status = 'draft' then
    raise exception 'Campaign "%" has not been started, so it cannot be paused.', v_campaign.name using errcode = 'STATE';
  elsif v_campaign.status not in ('scheduled', 'sending') then
    raise exception 'Campaign "%" is % and cannot be paused.', v_campaign.name, v_campaign.status using errcode = 'STATE';
  end if;
  update app_public.campaigns c set status = 'paused', paused_at = app_private.engine_now(), paused_by = 'user', pause_reason = null
    where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id
    returning * into v_campaign;
  return v_campaign;
end;
$$;
comment on function app_public.pause_campaign(uuid) is 'Pauses a scheduled or sending campaign: nothing more is sent until it is resumed (a message already being handed to the SMTP server finishes).';

create or replace function app_private.resume_campaign_row(tenant_id uuid, campaign_id uuid) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_campaign app_public.campaigns;
  v_ids uuid[];
begin
  select c.* into v_campaign from app_public.campaigns c
    where c.tenant_id = resume_campaign_row.tenant_id and c.id = resume_campaign_row.campaign_id;
  if v_campaign.started_at is null then
    if v_campaign.scheduled_for is not null and v_campaign.scheduled_for > app_private.engine_now() then
      update app_public.campaigns c set status = 'scheduled' where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
      perform app_private.queue_campaign_start(v_campaign.tenant_id, v_campaign.id, v_campaign.scheduled_for);
    else
      perform app_private.begin_campaign(v_campaign.tenant_id, v_campaign.id);
    end if;
    return;
  end if;
  update app_public.campaigns c set status = 'sending' where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
  -- Everyone still in the sequence picks up where they were (or now, if that
  -- moment passed while paused); new list members join.
  select coalesce(array_agg(e.id), '{}') into v_ids from app_public.campaign_enrollments e
    where e.tenant_id = v_campaign.tenant_id and e.campaign_id = v_campaign.id and e.status = 'active';
  perform app_private.schedule_enrollments(v_campaign.tenant_id, v_ids);
  perform app_private.enroll_campaign_audience(v_campaign.tenant_id, v_campaign.id);
  perform app_private.complete_campaign_if_done(v_campaign.tenant_id, v_campaign.id);
end;
$$;
comment on function app_private.resume_campaign_row(uuid, uuid) is 'Resumes a paused campaign: back to scheduled if it has not started and its time is still ahead, else sending with every active enrollment rescheduled and new audience members enrolled.';

create or replace function app_public.resume_campaign(campaign_id uuid) returns app_public.campaigns
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_campaign app_public.campaigns := app_private.lock_campaign_for_change(campaign_id);
begin
  if v_campaign.status <> 'paused' then
    raise exception 'Campaign "%" is %, not paused; only a paused campaign can be resumed.', v_campaign.name, v_campaign.status
      using errcode = 'STATE';
  end if;
  perform app_private.resume_campaign_row(v_campaign.tenant_id, v_campaign.id);
  select c.* into v_campaign from app_public.campaigns c where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
  return v_campaign;
end;
$$;
comment on function app_public.resume_campaign(uuid) is 'Resumes a paused campaign (whoever paused it): enrollments continue where they stopped and new members of its target lists are enrolled. If the pause came from the plan limit or billing and that is not resolved, the next send pauses it again with the reason.';

create or replace function app_public.cancel_campaign(campaign_id uuid) returns app_public.campaigns
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_campaign app_public.campaigns := app_private.lock_campaign_for_change(campaign_id);
begin
  if v_campaign.status in ('completed', 'cancelled') then
    raise exception 'Campaign "%" is already %.', v_campaign.name, v_campaign.status using errcode = 'STATE';
  end if;
  update app_public.campaigns c set status = 'cancelled', cancelled_at = app_private.engine_now()
    where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
  update app_public.campaign_enrollments e set status = 'cancelled', stop_reason = 'The campaign was cancelled.',
      next_run_at = null, completed_at = app_private.engine_now()
    where e.tenant_id = v_campaign.tenant_id and e.campaign_id = v_campaign.id and e.status in ('active', 'paused');
  update app_public.messages m set status = 'cancelled', error_message = 'The campaign was cancelled.'
    where m.tenant_id = v_campaign.tenant_id and m.campaign_id = v_campaign.id and m.direction = 'outbound' and m.status = 'queued';
  select c.* into v_campaign from app_public.campaigns c where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
  return v_campaign;
end;
$$;
comment on function app_public.cancel_campaign(uuid) is 'Cancels a campaign for good: its enrollments stop and its queued messages are cancelled (a message already being handed to the SMTP server finishes).';

--------------------------------------------------------------------------------
-- Tenant-wide pause (billing dunning, plan limit) and completion.
--------------------------------------------------------------------------------

create or replace function app_private.pause_tenant_campaigns(tenant_id uuid, reason text) returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_count integer;
begin
  if coalesce(btrim(reason), '') = '' then
    raise exception 'Say why the campaigns are paused; the reason is shown to the tenant.' using errcode = 'INVAL';
  end if;
  update app_public.campaigns c set status = 'paused', paused_at = app_private.engine_now(), paused_by = 'system', pause_reason = left(pause_tenant_campaigns.reason, 1000)
    where c.tenant_id = pause_tenant_campaigns.tenant_id and c.status in ('scheduled', 'sending');
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
comment on function app_private.pause_tenant_campaigns(uuid, text) is 'Pauses every scheduled or sending campaign of a tenant on behalf of the system (billing dunning, plan limit), with a reason shown to the tenant. Returns how many were paused.';

create or replace function app_private.resume_tenant_campaigns(tenant_id uuid) returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_campaign record;
  v_count integer := 0;
begin
  for v_campaign in
    select c.id from app_public.campaigns c
    where c.tenant_id = resume_tenant_campaigns.tenant_id and c.status = 'paused' and c.paused_by = 'system'
      and c.safety_pause is null -- paused for its bounce or complaint rate: only the tenant resumes it
    order by c.created
    for no key update
  loop
    perform app_private.resume_campaign_row(tenant_id, v_campaign.id);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;
comment on function app_private.resume_tenant_campaigns(uuid) is 'Resumes the tenant''s campaigns that the system paused (not those a user paused, nor those paused for their bounce or complaint rate). Returns how many were resumed.';

create or replace function app_private.complete_campaign_if_done(tenant_id uuid, campaign_id uuid) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_done boolean;
begin
  update app_public.campaigns c set status = 'completed', completed_at = app_private.engine_now()
    where c.tenant_id = complete_campaign_if_done.tenant_id and c.id = complete_campaign_if_done.campaign_id
      and c.status = 'sending'
      and not exists (select 1 from app_public.campaign_enrollments e
                      where e.tenant_id = c.tenant_id and e.campaign_id = c.id and e.status in ('active', 'paused'));
  v_done := found;
  return v_done;
end;
$$;
comment on function app_private.complete_campaign_if_done(uuid, uuid) is 'Marks a sending campaign completed when no enrollment is left active; returns whether it did.';

create or replace function app_private.tg_campaign_enrollments__check_completion() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- The last enrollments to finish queue the check, which runs in its own job
  -- so this transaction never waits for the campaign row. "Last" is the tail
  -- of fewer than 64 others still active, not "no other": enrollments that
  -- finish in concurrent transactions each see the others still active (write
  -- skew), and with a "none left" test none of them would queue it. Each
  -- transaction of the tail queues a check of its own, which no worker can
  -- see before that transaction commits, so the check of the last one to
  -- commit sees every enrollment finished. No job key: transactions of the
  -- tail adding one key would wait on each other's uncommitted job row (the
  -- INSERT … ON CONFLICT of add_jobs), and a separate check each costs a
  -- query of the campaign. More than 64 finishing at the same instant is
  -- left to campaign_housekeeping.
  if old.status in ('active', 'paused') and new.status not in ('active', 'paused')
     and exists (select 1 from app_public.campaigns c
                 where c.tenant_id = new.tenant_id and c.id = new.campaign_id and c.status = 'sending')
     and (select count(*) from (
            select 1 from app_public.campaign_enrollments e
            where e.tenant_id = new.tenant_id and e.campaign_id = new.campaign_id
              and e.status in ('active', 'paused') and e.id <> new.id
            limit 64) others) < 64 then
    perform app_private.add_job(new.tenant_id, 'campaign_check_completion',
      json_build_object('tenant_id', new.tenant_id, 'campaign_id', new.campaign_id), max_attempts => 5);
  end if;
  return null;
end;
$$;
comment on function app_private.tg_campaign_enrollments__check_completion() is 'When one of the last active enrollments of a campaign finishes, queues the job that completes the campaign once none is left.';
create or replace trigger _500_check_completion
  after update of status on app_public.campaign_enrollments
  for each row execute function app_private.tg_campaign_enrollments__check_completion();

create or replace function app_private.campaign_housekeeping() returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_campaign record;
  v_enrolled integer := 0;
begin
  for v_campaign in
    select c.tenant_id, c.id from app_public.campaigns c where c.status = 'sending' order by c.started_at
  loop
    v_enrolled := v_enrolled + app_private.enroll_campaign_audience(v_campaign.tenant_id, v_campaign.id);
    perform app_private.complete_campaign_if_done(v_campaign.tenant_id, v_campaign.id);
  end loop;
  return v_enrolled;
end;
$$;
comment on function app_private.campaign_housekeeping() is 'Periodic pass over sending campaigns: enrolls new members of their target lists and completes those with no active enrollment left (a safety net for the completion trigger). Returns how many leads were enrolled.';
