--------------------------------------------------------------------------------
-- Automatic safety pauses: owners and admins set the tenant's limits (the
-- tenant_config row policy allows admins to write; the CHECK constraints hold
-- the platform bounds) and resume an inbox the platform stopped.
--------------------------------------------------------------------------------

grant update (safety_bounce_rate, safety_complaint_rate, safety_min_sample, safety_window_days)
  on app_public.tenant_config to penguinmails_member;

grant execute on function app_public.resume_email_account(uuid) to penguinmails_member;
