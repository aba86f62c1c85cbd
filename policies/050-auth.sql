--------------------------------------------------------------------------------
-- Who may call the authentication and membership operations. Every one of
-- them checks its own rules (roles, tokens, policy) inside.
--------------------------------------------------------------------------------

grant usage on schema app_hidden to penguinmails_anonymous, penguinmails_member;

grant execute on function
  app_hidden.register(text, text, text, text, text),
  app_hidden.confirm_registration(text),
  app_hidden.login(text, text, uuid, text),
  app_hidden.accept_invitation(text, text, text),
  app_hidden.request_password_reset(text, text),
  app_public.reset_password(text, text),
  -- the session of a sign-in that just succeeded (plugins/session-mutations.ts)
  app_hidden.open_session(uuid, timestamptz)
to penguinmails_anonymous, penguinmails_member;

grant execute on function
  app_hidden.switch_tenant(uuid),
  app_public.my_memberships(),
  app_public.invite_member(text, text[]),
  app_public.revoke_invitation(uuid),
  app_public.change_member_roles(uuid, text[]),
  app_public.remove_member(uuid),
  app_hidden.change_password(text, text),
  app_public.logout(),
  app_public.logout_everywhere()
to penguinmails_member;
