--------------------------------------------------------------------------------
-- Who may call the two-factor functions (functions/053-two-factor.sql); the
-- API calls them from plugins/two-factor.ts and each checks its own rules.
--------------------------------------------------------------------------------

-- Completing a sign-in: the caller has no session yet.
grant execute on function
  app_hidden.two_factor_challenge_secret(text),
  app_hidden.verify_two_factor_login(text, bigint, text)
to penguinmails_anonymous, penguinmails_member;

-- The signed-in user's own second factor.
grant execute on function
  app_hidden.start_two_factor_enrollment(bytea),
  app_hidden.my_two_factor_secret(),
  app_hidden.confirm_two_factor(bigint),
  app_hidden.disable_two_factor(bigint, text)
to penguinmails_member;

-- Email verification (tenant_policies.company_require_email_verification):
-- asked for by the signed-in user, completed from the emailed link.
grant execute on function app_public.request_email_verification() to penguinmails_member;
grant execute on function app_public.verify_email(text) to penguinmails_anonymous, penguinmails_member;
