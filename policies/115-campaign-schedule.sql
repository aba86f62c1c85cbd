--------------------------------------------------------------------------------
-- A campaign's schedule (functions/115): whoever can read the campaign can
-- read when it sends next and why not now.
--------------------------------------------------------------------------------

grant execute on function
  app_public.campaigns_next_send_at(app_public.campaigns),
  app_public.campaigns_idle_reason(app_public.campaigns)
to penguinmails_member;
