--------------------------------------------------------------------------------
-- Campaigns are edited by members; their status only changes through the
-- lifecycle functions, and enrollments, messages and events are written by
-- those functions and the worker, so members only read them.
--------------------------------------------------------------------------------

select app_private.apply_tenant_policies('app_public.campaigns', write_role => 'member');
grant select, delete on app_public.campaigns to penguinmails_member;
grant insert (company_id, name, description, scheduled_for, timezone, use_lead_timezone, send_days, send_window_start,
    send_window_end, min_gap_seconds, max_gap_seconds, daily_limit, stop_on_reply, track_opens, track_clicks,
    include_unsubscribe_link, from_name, reply_to),
  update (company_id, name, description, scheduled_for, timezone, use_lead_timezone, send_days, send_window_start,
    send_window_end, min_gap_seconds, max_gap_seconds, daily_limit, stop_on_reply, track_opens, track_clicks,
    include_unsubscribe_link, from_name, reply_to)
  on app_public.campaigns to penguinmails_member;

select app_private.apply_tenant_policies('app_public.campaign_email_accounts', write_role => 'member');
grant select, delete on app_public.campaign_email_accounts to penguinmails_member;
grant insert (campaign_id, email_account_id) on app_public.campaign_email_accounts to penguinmails_member;

select app_private.apply_tenant_policies('app_public.campaign_sequence_steps', write_role => 'member');
grant select, delete on app_public.campaign_sequence_steps to penguinmails_member;
grant insert (campaign_id, step_order, step_type, email_account_id, template_id, subject_override, from_name_override,
    wait_duration_hours, wait_until, condition_type, condition_value, send_condition, is_active,
    ab_auto_winner, ab_winner_metric, ab_min_sends_per_variant, ab_decide_after),
  update (step_order, step_type, email_account_id, template_id, subject_override, from_name_override,
    wait_duration_hours, wait_until, condition_type, condition_value, send_condition, is_active,
    ab_auto_winner, ab_winner_metric, ab_min_sends_per_variant, ab_decide_after)
  on app_public.campaign_sequence_steps to penguinmails_member;

select app_private.apply_tenant_policies('app_public.campaign_step_variants', write_role => 'member');
grant select, delete on app_public.campaign_step_variants to penguinmails_member;
grant insert (step_id, label, subject, body_html, body_text, weight), update (label, subject, body_html, body_text, weight)
  on app_public.campaign_step_variants to penguinmails_member;

-- A/B decisions (functions/121-ab-winners.sql) are written by the worker's
-- sweep and by choose_ab_winner (members and above, SECURITY DEFINER); every
-- member of the tenant, viewers included, reads them and the per-variant figures.
select app_private.apply_tenant_policies('app_public.campaign_step_ab_decisions', write_role => null);
grant select on app_public.campaign_step_ab_decisions to penguinmails_member;
grant execute on function
  app_public.choose_ab_winner(uuid),
  app_public.campaign_step_variants_stats(app_public.campaign_step_variants),
  app_public.campaign_sequence_steps_ab_decision(app_public.campaign_sequence_steps)
to penguinmails_member;

select app_private.apply_tenant_policies('app_public.campaign_targets', write_role => 'member');
grant select, delete on app_public.campaign_targets to penguinmails_member;
grant insert (campaign_id, contact_list_id, lead_id) on app_public.campaign_targets to penguinmails_member;

select app_private.apply_tenant_policies('app_public.campaign_enrollments', write_role => null);
grant select on app_public.campaign_enrollments to penguinmails_member;

select app_private.apply_tenant_policies('app_public.messages', write_role => null);
grant select on app_public.messages to penguinmails_member;

select app_private.apply_tenant_policies('app_public.email_events', write_role => null);
grant select on app_public.email_events to penguinmails_member;

--------------------------------------------------------------------------------
-- The sending engine's API surface: the campaign lifecycle (each function
-- checks the caller is a member or above of the campaign's tenant), the inbox
-- credential helpers (admins and owners; only booleans come back) and the
-- render context behind previewMessage (runs under the caller's RLS).
-- Everything else of the engine is in app_private, for the worker only.
--------------------------------------------------------------------------------

grant execute on function
  app_public.start_campaign(uuid),
  app_public.pause_campaign(uuid),
  app_public.resume_campaign(uuid),
  app_public.cancel_campaign(uuid),
  app_public.email_accounts_smtp_auth_configured(app_public.email_accounts),
  app_public.email_accounts_imap_auth_configured(app_public.email_accounts),
  app_hidden.set_email_account_credentials(uuid, bytea, bytea),
  app_hidden.render_context(uuid, uuid, uuid),
  app_hidden.choose_variant(uuid, uuid, uuid)
to penguinmails_member;

--------------------------------------------------------------------------------
-- A campaign's schedule (functions/115): whoever can read the campaign can
-- read when it sends next and why not now.
--------------------------------------------------------------------------------

grant execute on function
  app_public.campaigns_next_send_at(app_public.campaigns),
  app_public.campaigns_idle_reason(app_public.campaigns)
to penguinmails_member;
