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
