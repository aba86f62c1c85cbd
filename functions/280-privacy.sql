--------------------------------------------------------------------------------
-- A person's data (GDPR/CCPA requests): export and erasure of everything a
-- tenant holds about one email address. docs/privacy.md lists what each reads
-- and removes.
--------------------------------------------------------------------------------

create or replace function app_private.mentions(haystack text, needle text) returns boolean
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select strpos(lower(haystack), lower(needle)) > 0;
$$;
comment on function app_private.mentions(text, text) is 'Whether the text contains the needle, ignoring case (no LIKE wildcards: an address holds "_").';

create or replace function app_private.without_terms(value text, terms text[]) returns text
  language plpgsql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_term text;
  v_value text := value;
begin
  foreach v_term in array coalesce(terms, '{}') loop
    v_value := regexp_replace(v_value, regexp_replace(v_term, '([\\.^$|?*+()\[\]{}-])', '\\\1', 'g'), '[erased]', 'gi');
  end loop;
  return v_value;
end;
$$;
comment on function app_private.without_terms(text, text[]) is 'The text with every occurrence of each term (an address, a name) replaced by [erased], ignoring case.';

create or replace function app_private.erased_address(tenant_id uuid, email text) returns text
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_salt bytea;
begin
  select s.salt into v_salt from app_private.privacy_salts s where s.tenant_id = erased_address.tenant_id;
  if v_salt is null then
    return null;  -- no address of this tenant was ever erased
  end if;
  return encode(sha256(v_salt || convert_to(lower(email), 'UTF8')), 'hex') || '@erased.invalid';
end;
$$;
comment on function app_private.erased_address(uuid, text) is 'What an erased address is suppressed by in this tenant: <hex sha256(tenant salt || lower(address))>@erased.invalid, kept in suppressions.email (so the unique index on it serves the lookup); null while the tenant has no salt (nothing erased yet). app_private.lead_block_reason computes the same.';

create or replace function app_private.privacy_request_tenant(email text) returns uuid
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
begin
  if v_tenant_id is null or not app_public.has_tenant_role('admin') or app_hidden.current_api_key_id() is not null then
    raise exception 'Only owners and admins of this organisation, signed in, can answer privacy requests.' using errcode = 'DNIED';
  end if;
  if email is null or email !~ '^[^@\s]+@[^@\s]+$' or length(email) > 254 then
    raise exception 'Give the email address the request is about.' using errcode = 'INVAL';
  end if;
  return v_tenant_id;
end;
$$;
comment on function app_private.privacy_request_tenant(text) is 'The tenant a privacy request acts in: refuses (DNIED) unless an owner or admin makes it (not an API key), and INVAL when the address is not one.';

create or replace function app_private.privacy_subject(tenant_id uuid, email text,
  out lead_ids uuid[], out enrollment_ids uuid[], out message_ids uuid[], out name_terms text[])
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_email citext := email::citext;
begin
  select coalesce(array_agg(distinct l.id), '{}'),
         coalesce(array_agg(distinct t) filter (where length(t) >= 3), '{}')
    into lead_ids, name_terms
    from app_public.leads l
    left join lateral unnest(array[l.name, l.first_name || ' ' || l.last_name]) t on true
    where l.tenant_id = privacy_subject.tenant_id and l.email = v_email;
  select coalesce(array_agg(e.id), '{}') into enrollment_ids
    from app_public.campaign_enrollments e
    where e.tenant_id = privacy_subject.tenant_id and e.lead_id = any (lead_ids);
  select coalesce(array_agg(m.id), '{}') into message_ids
    from app_public.messages m
    where m.tenant_id = privacy_subject.tenant_id
      and (m.lead_id = any (lead_ids) or m.enrollment_id = any (enrollment_ids)
           or m.to_email = v_email or m.from_email = v_email);
end;
$$;
comment on function app_private.privacy_subject(uuid, text) is 'What a tenant holds under one address: its leads, their enrollments, every message to, from or about it, and the names to scrub from free text.';

create or replace function app_public.export_personal_data(email text) returns jsonb
  language plpgsql stable strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_private.privacy_request_tenant(email);
  v_email citext := email::citext;
  v_subject record;
  v_result jsonb;
begin
  select * into v_subject from app_private.privacy_subject(v_tenant_id, email);
  select jsonb_build_object(
    'format', 'penguinmails.personal-data.v1',
    'email', lower(email),
    'tenantId', v_tenant_id,
    'exportedAt', now(),
    'leads', (select coalesce(jsonb_agg(to_jsonb(l) - 'search' order by l.created), '[]') from app_public.leads l
              where l.tenant_id = v_tenant_id and l.id = any (v_subject.lead_ids)),
    'listMemberships', (select coalesce(jsonb_agg(jsonb_build_object('listId', cl.id, 'listName', cl.name, 'leadId', m.lead_id, 'added', m.created)), '[]')
              from app_public.contact_list_members m join app_public.contact_lists cl on cl.tenant_id = v_tenant_id and cl.id = m.list_id
              where m.tenant_id = v_tenant_id and m.lead_id = any (v_subject.lead_ids)),
    'campaignEnrollments', (select coalesce(jsonb_agg(to_jsonb(e) order by e.enrolled_at), '[]') from app_public.campaign_enrollments e
              where e.tenant_id = v_tenant_id and e.id = any (v_subject.enrollment_ids)),
    'messages', (select coalesce(jsonb_agg(to_jsonb(m) order by m.id), '[]') from app_public.messages m
              where m.tenant_id = v_tenant_id and m.id = any (v_subject.message_ids)),
    'emailEvents', (select coalesce(jsonb_agg(to_jsonb(ev) order by ev.id), '[]') from app_public.email_events ev
              where ev.tenant_id = v_tenant_id and (ev.message_id = any (v_subject.message_ids) or ev.lead_id = any (v_subject.lead_ids))),
    'conversations', (select coalesce(jsonb_agg(to_jsonb(c) order by c.created), '[]') from app_public.conversations c
              where c.tenant_id = v_tenant_id and c.lead_id = any (v_subject.lead_ids)),
    'conversationReplies', (select coalesce(jsonb_agg(to_jsonb(cm) order by cm.message_created), '[]') from app_public.conversation_messages cm
              where cm.tenant_id = v_tenant_id and cm.message_id = any (v_subject.message_ids)),
    'deals', (select coalesce(jsonb_agg(to_jsonb(d) order by d.created), '[]') from app_public.deals d
              where d.tenant_id = v_tenant_id and (d.primary_lead_id = any (v_subject.lead_ids) or d.id in (
                select dc.deal_id from app_public.deal_contacts dc where dc.tenant_id = v_tenant_id and dc.lead_id = any (v_subject.lead_ids)))),
    'dealContacts', (select coalesce(jsonb_agg(to_jsonb(dc) order by dc.created), '[]') from app_public.deal_contacts dc
              where dc.tenant_id = v_tenant_id and dc.lead_id = any (v_subject.lead_ids)),
    'activities', (select coalesce(jsonb_agg(to_jsonb(a) order by a.occurred_at), '[]') from app_public.activities a
              where a.tenant_id = v_tenant_id and a.lead_id = any (v_subject.lead_ids)),
    'suppressions', (select coalesce(jsonb_agg(to_jsonb(s) order by s.created), '[]') from app_public.suppressions s
              where s.tenant_id = v_tenant_id and s.email = v_email),
    'importErrors', (select coalesce(jsonb_agg(jsonb_build_object('importId', i.id, 'fileName', i.file_name, 'error', e.value)), '[]')
              from app_public.lead_imports i cross join lateral jsonb_array_elements(i.errors) e
              where i.tenant_id = v_tenant_id and app_private.mentions(e.value::text, email)),
    'webhookEvents', (select coalesce(jsonb_agg(to_jsonb(w) order by w.created), '[]') from app_public.webhook_events w
              where w.tenant_id = v_tenant_id and app_private.mentions(w.data::text, email))
  ) into v_result;
  if v_result -> 'leads' = '[]' and v_result -> 'messages' = '[]' and v_result -> 'suppressions' = '[]'
     and v_result -> 'webhookEvents' = '[]' and v_result -> 'importErrors' = '[]' then
    raise exception 'This organisation holds nothing about %.', lower(email) using errcode = 'NTFND';
  end if;
  return v_result;
end;
$$;
comment on function app_public.export_personal_data(text) is 'Everything this organisation holds about one email address (a privacy access request), as one JSON document: its leads with their custom fields, list memberships, campaign enrollments, messages both ways with their events, conversations, deals and deal contacts, its CRM timeline (activities: notes, tasks, emails and status changes), suppressions, import errors and webhook events naming it. Owners and admins only (FORBIDDEN otherwise); NOT_FOUND when nothing is held.';

create or replace function app_public.erase_personal_data(email text) returns jsonb
  language plpgsql volatile strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_private.privacy_request_tenant(email);
  v_email citext := email::citext;
  v_request_id uuid := gen_random_uuid();
  v_subject record;
  v_terms text[];
  v_ids text[];
  v_counts jsonb := '{}';
  v_n integer;
  v_reason text;
  v_erased text;
  v_row record;
  v_jobs integer;
  v_errors jsonb;
begin
  select * into v_subject from app_private.privacy_subject(v_tenant_id, email);
  v_terms := array[lower(email)] || v_subject.name_terms;
  v_ids := array(select unnest(v_subject.lead_ids)::text union all select unnest(v_subject.message_ids)::text);
  select s.reason into v_reason from app_public.suppressions s where s.tenant_id = v_tenant_id and s.email = v_email;
  if cardinality(v_subject.lead_ids) = 0 and cardinality(v_subject.message_ids) = 0 and v_reason is null then
    raise exception 'This organisation holds no lead, message or suppression for %.', lower(email) using errcode = 'NTFND';
  end if;

  -- Events, conversations and messages first (messages reference enrollments, which go with the lead).
  delete from app_public.email_events ev
    where ev.tenant_id = v_tenant_id and (ev.message_id = any (v_subject.message_ids) or ev.lead_id = any (v_subject.lead_ids));
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('email_events', v_n);
  delete from app_public.conversations c where c.tenant_id = v_tenant_id and c.lead_id = any (v_subject.lead_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('conversations', v_n);
  -- References to those messages are cleared first: on Citus the keys declared
  -- ON DELETE SET NULL (column) keep no action (src/db/citus-distribution.ts).
  update app_public.conversations c set last_message_id = null
    where c.tenant_id = v_tenant_id and c.last_message_id = any (v_subject.message_ids);
  update app_public.messages m set parent_message_id = null
    where m.tenant_id = v_tenant_id and m.parent_message_id = any (v_subject.message_ids) and not (m.id = any (v_subject.message_ids));
  update app_public.campaign_enrollments e set current_message_id = null
    where e.tenant_id = v_tenant_id and e.current_message_id = any (v_subject.message_ids);
  update app_public.campaign_enrollments e set thread_message_id = null
    where e.tenant_id = v_tenant_id and e.thread_message_id = any (v_subject.message_ids);
  delete from app_public.messages m where m.tenant_id = v_tenant_id and m.id = any (v_subject.message_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('messages', v_n);

  -- Deals stay (the organisation's pipeline) without the person's address or name in their text.
  v_n := 0;
  for v_row in
    select d.id, d.title, d.description, d.notes from app_public.deals d
    where d.tenant_id = v_tenant_id
      and (d.primary_lead_id = any (v_subject.lead_ids)
           or exists (select 1 from unnest(v_terms) t where app_private.mentions(concat_ws(' ', d.title, d.description, d.notes), t)))
  loop
    update app_public.deals d set
        title = coalesce(app_private.without_terms(v_row.title, v_terms), '[erased]'),
        description = app_private.without_terms(v_row.description, v_terms),
        notes = app_private.without_terms(v_row.notes, v_terms)
      where d.tenant_id = v_tenant_id and d.id = v_row.id;
    v_n := v_n + 1;
  end loop;
  v_counts := v_counts || jsonb_build_object('deals_scrubbed', v_n);
  update app_public.deals d set primary_lead_id = null
    where d.tenant_id = v_tenant_id and d.primary_lead_id = any (v_subject.lead_ids);

  -- The lead and what only links it to the organisation's records. Each table
  -- is emptied explicitly (rather than by the cascades) for the counts.
  delete from app_public.deal_contacts dc where dc.tenant_id = v_tenant_id and dc.lead_id = any (v_subject.lead_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('deal_contacts', v_n);
  delete from app_public.contact_list_members m where m.tenant_id = v_tenant_id and m.lead_id = any (v_subject.lead_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('contact_list_members', v_n);
  delete from app_public.campaign_targets ct where ct.tenant_id = v_tenant_id and ct.lead_id = any (v_subject.lead_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('campaign_targets', v_n);
  delete from app_public.campaign_enrollments e where e.tenant_id = v_tenant_id and e.id = any (v_subject.enrollment_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('campaign_enrollments', v_n);
  delete from app_public.leads l where l.tenant_id = v_tenant_id and l.id = any (v_subject.lead_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('leads', v_n);

  -- Import results keep their counts; the row errors naming the address go.
  v_n := 0;
  for v_row in
    select i.id, i.errors from app_public.lead_imports i
    where i.tenant_id = v_tenant_id and app_private.mentions(i.errors::text, email)
  loop
    select coalesce(jsonb_agg(e.value order by e.ordinality), '[]') into v_errors
      from jsonb_array_elements(v_row.errors) with ordinality e
      where not app_private.mentions(e.value::text, email);
    update app_public.lead_imports i set errors = v_errors
      where i.tenant_id = v_tenant_id and i.id = v_row.id;
    v_n := v_n + 1;
  end loop;
  v_counts := v_counts || jsonb_build_object('lead_imports_scrubbed', v_n);

  -- Webhook events naming the person or their rows (their deliveries go with them), and
  -- deliveries whose response echoed the address.
  delete from app_public.webhook_events w
    where w.tenant_id = v_tenant_id
      and (app_private.mentions(w.data::text, email)
           or exists (select 1 from unnest(v_ids) i where app_private.mentions(w.data::text, i)));
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('webhook_events', v_n);
  delete from app_public.webhook_deliveries wd
    where wd.tenant_id = v_tenant_id and app_private.mentions(wd.response_body, email);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('webhook_deliveries', v_n);

  -- Earlier audit entries naming the address keep their action, not its data.
  update app_public.audit_log a set changes = '{"erased": true}'
    where a.tenant_id = v_tenant_id and app_private.mentions(a.changes::text, email);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('audit_log_scrubbed', v_n);

  -- Queued jobs of this tenant naming the person (not those running now).
  delete from app_private.job_outbox o
    where o.tenant_id = v_tenant_id
      and (app_private.mentions(o.payload::text, email) or exists (select 1 from unnest(v_ids) i where app_private.mentions(o.payload::text, i)));
  get diagnostics v_n = row_count;
  if app_private.on_coordinator() then
    delete from graphile_worker._private_jobs j
      where j.locked_at is null and app_private.mentions(j.payload::text, v_tenant_id::text)
        and (app_private.mentions(j.payload::text, email) or exists (select 1 from unnest(v_ids) i where app_private.mentions(j.payload::text, i)));
    get diagnostics v_jobs = row_count;
    v_n := v_n + v_jobs;
  end if;
  v_counts := v_counts || jsonb_build_object('jobs', v_n);

  -- Never mailed again: the address becomes a salted hash in the suppression list.
  insert into app_private.privacy_salts (tenant_id) values (v_tenant_id) on conflict (tenant_id) do nothing;
  v_erased := app_private.erased_address(v_tenant_id, email);
  delete from app_public.suppressions s where s.tenant_id = v_tenant_id and s.email = v_email;
  insert into app_public.suppressions (tenant_id, email, reason)
    values (v_tenant_id, v_erased, coalesce(v_reason, 'manual'))
    on conflict (tenant_id, email) do nothing;

  insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, table_name, record_id, changes)
    values (v_tenant_id, app_public.current_user_id(),
            not coalesce(app_private.membership_roles(app_public.current_user_id(), v_tenant_id) && '{owner,admin}', false),
            'privacy.erase', null, v_request_id::text, jsonb_build_object('request_id', v_request_id, 'counts', v_counts));
  return jsonb_build_object('requestId', v_request_id, 'counts', v_counts);
end;
$$;
comment on function app_public.erase_personal_data(text) is 'Erases everything this organisation holds about one email address (a privacy erasure request): its leads (with enrollments, list memberships, deal contacts), every message to, from or about it with their events and conversations, webhook events and queued jobs naming it; scrubs the address and name from deals, import errors and earlier audit entries; and keeps only a salted hash in the suppression list so it is never mailed again. Campaign statistics keep their counts. Writes one audit entry (action privacy.erase) with the request id and the number of rows per table, never the address. Owners and admins only (FORBIDDEN otherwise); NOT_FOUND when nothing is held. Returns {requestId, counts}.';
