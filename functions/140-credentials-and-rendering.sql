--------------------------------------------------------------------------------
-- Sending engine, part 5: inbox credentials and what a message is rendered
-- from.
--
-- Credentials: the API encrypts SMTP/IMAP passwords with the application key
-- (AES-256-GCM, src/crypto/secrets.ts) and hands the ciphertext to
-- set_email_account_credentials(), which stores it in app_private. Nothing
-- ever returns a credential; the API only tells whether one is set.
--
-- Rendering: render_context() gathers everything a message of an email step
-- for a lead is rendered from (template, subject override, A/B variant with
-- its subject and body overrides, campaign, lead with custom fields, sender). It runs as the caller, so the
-- API's preview reads under the caller's RLS, and the worker (owner) reads the
-- same document: the preview reproduces exactly what is sent.
--------------------------------------------------------------------------------

create or replace function app_hidden.set_email_account_credentials(
  email_account_id uuid,
  smtp_password_encrypted bytea,
  imap_password_encrypted bytea
) returns void
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('domains');
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can set inbox passwords.' using errcode = 'DNIED';
  end if;
  if not exists (select 1 from app_public.email_accounts ea
                 where ea.tenant_id = v_tenant_id and ea.id = set_email_account_credentials.email_account_id) then
    raise exception 'There is no inbox % in this organisation.', email_account_id using errcode = 'NTFND';
  end if;
  if smtp_password_encrypted is null and imap_password_encrypted is null then
    raise exception 'Give an SMTP password, an IMAP password, or both.' using errcode = 'INVAL';
  end if;
  insert into app_private.email_account_credentials as cr (tenant_id, email_account_id, smtp_password_encrypted, imap_password_encrypted, updated)
    values (v_tenant_id, set_email_account_credentials.email_account_id, set_email_account_credentials.smtp_password_encrypted,
            set_email_account_credentials.imap_password_encrypted, now())
  on conflict (tenant_id, email_account_id) do update set
    smtp_password_encrypted = coalesce(excluded.smtp_password_encrypted, cr.smtp_password_encrypted),
    imap_password_encrypted = coalesce(excluded.imap_password_encrypted, cr.imap_password_encrypted),
    updated = excluded.updated; -- the insert's now(): Citus takes no call in DO UPDATE SET
  insert into app_public.audit_log (tenant_id, actor_user_id, action, table_name, record_id, changes)
    values (v_tenant_id, app_public.current_user_id(), 'email_account.credentials_set', 'email_accounts', email_account_id::text,
            jsonb_build_object('smtp_password', smtp_password_encrypted is not null, 'imap_password', imap_password_encrypted is not null));
end;
$$;
comment on function app_hidden.set_email_account_credentials(uuid, bytea, bytea) is 'Stores an inbox''s encrypted SMTP and/or IMAP password (a null one is left as it was). Owners and admins of the inbox''s tenant only; audited; never returns a secret.';

create or replace function app_public.email_accounts_smtp_auth_configured(account app_public.email_accounts) returns boolean
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return exists (
    select 1 from app_private.email_account_credentials cr
    where cr.tenant_id = account.tenant_id and cr.email_account_id = account.id
      and account.tenant_id = app_public.current_tenant_id() and cr.smtp_password_encrypted is not null
  );
end;
$$;
comment on function app_public.email_accounts_smtp_auth_configured(app_public.email_accounts) is 'Whether an SMTP password is stored for this inbox (it is never readable; set it with setEmailAccountCredentials).';

create or replace function app_public.email_accounts_imap_auth_configured(account app_public.email_accounts) returns boolean
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return exists (
    select 1 from app_private.email_account_credentials cr
    where cr.tenant_id = account.tenant_id and cr.email_account_id = account.id
      and account.tenant_id = app_public.current_tenant_id() and cr.imap_password_encrypted is not null
  );
end;
$$;
comment on function app_public.email_accounts_imap_auth_configured(app_public.email_accounts) is 'Whether an IMAP password is stored for this inbox (it is never readable; set it with setEmailAccountCredentials).';

create or replace function app_hidden.render_context(tenant_id uuid, step_id uuid, lead_id uuid) returns jsonb
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  s app_public.campaign_sequence_steps;
  c app_public.campaigns;
  t app_public.templates;
  l app_public.leads;
  e app_public.campaign_enrollments;
  m app_public.messages;
  v app_public.campaign_step_variants;
  ea app_public.email_accounts;
  v_custom jsonb;
  v_tracking_host text;
begin
  select x.* into s from app_public.campaign_sequence_steps x where x.tenant_id = render_context.tenant_id and x.id = render_context.step_id;
  if s.id is null then
    raise exception 'There is no sequence step % in this organisation.', step_id using errcode = 'NTFND';
  end if;
  if s.step_type <> 'email' then
    raise exception 'Step % of the sequence is a % step; only email steps have a message.', s.step_order, s.step_type using errcode = 'INVAL';
  end if;
  select x.* into l from app_public.leads x where x.tenant_id = s.tenant_id and x.id = render_context.lead_id;
  if l.id is null then
    raise exception 'There is no lead % in this organisation.', lead_id using errcode = 'NTFND';
  end if;
  select x.* into c from app_public.campaigns x where x.tenant_id = s.tenant_id and x.id = s.campaign_id;
  select x.* into t from app_public.templates x where x.tenant_id = s.tenant_id and x.id = s.template_id;

  -- The message of this step for this lead, once there is one: it fixes the
  -- inbox and variant (and its id is in the tracking links).
  select x.* into e from app_public.campaign_enrollments x where x.tenant_id = s.tenant_id and x.campaign_id = c.id and x.lead_id = l.id;
  if e.id is not null then
    select x.* into m from app_public.messages x
      where x.tenant_id = e.tenant_id and x.enrollment_id = e.id and x.step_id = s.id and x.direction = 'outbound'
      order by (x.id = e.current_message_id) desc, (x.status = 'cancelled'), x.id desc
      limit 1;
  end if;

  select x.* into v from app_public.campaign_step_variants x
    where x.tenant_id = s.tenant_id and x.id = coalesce(m.variant_id, app_hidden.choose_variant(s.tenant_id, s.id, l.id));

  select x.* into ea from app_public.email_accounts x
    where x.tenant_id = s.tenant_id and x.id = coalesce(m.email_account_id, s.email_account_id, e.email_account_id);
  if ea.id is null then
    select x.* into ea from app_public.campaign_email_accounts a
      join app_public.email_accounts x on x.tenant_id = a.tenant_id and x.id = a.email_account_id
      where a.tenant_id = c.tenant_id and a.campaign_id = c.id
      order by (x.status = 'active') desc, x.email
      limit 1;
  end if;

  -- Every custom field the tenant defines is present (null when the lead has
  -- none), so a template may use it; an unknown key is a template error.
  select coalesce(jsonb_object_agg(d.key, null::jsonb), '{}') || l.custom_fields into v_custom
    from app_public.custom_field_definitions d where d.tenant_id = s.tenant_id;

  -- The organisation's verified tracking domain while its plan includes white
  -- label (functions/151-tracking-domains.sql): tracking links use that host.
  v_tracking_host := app_hidden.tracking_host(s.tenant_id);

  return jsonb_build_object(
    'tenantId', s.tenant_id,
    'messageId', m.id,
    'trackingHost', v_tracking_host,
    'step', jsonb_build_object('id', s.id, 'order', s.step_order, 'subjectOverride', s.subject_override),
    'template', jsonb_build_object('id', t.id, 'name', t.name, 'subject', t.subject, 'html', t.content, 'text', t.text_content, 'variables', t.variables),
    'variant', case when v.id is not null then jsonb_build_object('id', v.id, 'label', v.label, 'subject', v.subject,
                                                                  'html', v.body_html, 'text', v.body_text) end,
    'campaign', jsonb_build_object('id', c.id, 'name', c.name, 'trackOpens', c.track_opens, 'trackClicks', c.track_clicks,
                                   'includeUnsubscribeLink', c.include_unsubscribe_link),
    'lead', jsonb_build_object('id', l.id, 'email', l.email, 'first_name', l.first_name, 'last_name', l.last_name, 'name', l.name,
                               'company', l.company, 'title', l.title, 'phone', l.phone, 'website', l.website, 'timezone', l.timezone,
                               'custom', v_custom),
    'sender', case when ea.id is not null then jsonb_build_object(
                'emailAccountId', ea.id, 'email', ea.email,
                'name', coalesce(s.from_name_override, c.from_name, ea.from_name)) end
  );
end;
$$;
comment on function app_hidden.render_context(uuid, uuid, uuid) is 'Everything the message of an email step for a lead is rendered from, as one JSON document (template, subject override, A/B variant, campaign settings, lead with custom fields, sender, the message id once it exists, and the custom tracking host when the organisation has a verified one and white label). Runs as the caller, under RLS.';

--------------------------------------------------------------------------------
-- An inbox's address is on its own domain.
--------------------------------------------------------------------------------

create or replace function app_private.email_account_on_own_domain() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_domain text;
begin
  -- Security definer: the domain is read whatever the caller's policies show; the FK still decides whether it exists.
  select d.domain::text into v_domain from app_public.domains d where d.tenant_id = new.tenant_id and d.id = new.domain_id;
  if v_domain is null then
    return new; -- no such domain in this tenant: the foreign key reports it
  end if;
  if lower(substring(new.email::text from '@([^@]*)$')) is distinct from lower(v_domain) then
    raise exception 'The inbox address % is not on its domain %: use an address ending in @%.', new.email, v_domain, v_domain
      using errcode = 'INVAL', column = 'email';
  end if;
  return new;
end;
$$;
comment on function app_private.email_account_on_own_domain() is
  'Trigger: an inbox''s email must be exactly on its domain (the part after the @, case-insensitive), so a tenant cannot send as an address of a domain it has not added. Checked on insert and when email or domain_id change; rows written before this rule are not rechecked until then.';

-- After the row is written: row-level security and the foreign key to the
-- domain answer first (a viewer gets FORBIDDEN, a missing domain NOT_FOUND).
drop trigger if exists email_account_on_own_domain on app_public.email_accounts;
create trigger email_account_on_own_domain
  after insert or update of email, domain_id on app_public.email_accounts
  for each row execute function app_private.email_account_on_own_domain();
