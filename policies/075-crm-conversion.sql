--------------------------------------------------------------------------------
-- CRM conversion, timeline and soft delete (functions/075-crm-conversion.sql).
-- The timeline is read by every member (viewers included) and written only
-- by the triggers and the functions below, which check the caller is a
-- member or above.
--------------------------------------------------------------------------------

select app_private.apply_tenant_policies('app_public.activities', write_role => null);
grant select on app_public.activities to penguinmails_member;

grant execute on function
  app_public.leads_timeline(app_public.leads),
  app_public.deals_timeline(app_public.deals),
  app_public.convert_lead_to_deal(uuid, text, text, numeric, text, date),
  app_public.add_crm_note(text, uuid, uuid),
  app_public.add_crm_task(text, uuid, uuid, timestamptz, text),
  app_public.complete_crm_task(uuid, boolean),
  app_public.soft_delete_deal(uuid),
  app_public.restore_deal(uuid),
  app_public.soft_delete_crm_account(uuid),
  app_public.restore_crm_account(uuid)
to penguinmails_member;
