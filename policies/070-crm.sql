--------------------------------------------------------------------------------
-- CRM pipeline: members work deals. Deleting a deal or an account is soft
-- (deleted_at, through softDeleteDeal/softDeleteCrmAccount in
-- functions/075-crm-conversion.sql): no API role may DELETE or set
-- deleted_at itself, and a deleted row is hidden from every API read until
-- restoreDeal/restoreCrmAccount clears it.
--------------------------------------------------------------------------------

select app_private.apply_tenant_policies('app_public.crm_accounts', write_role => 'member');
drop policy tenant_delete on app_public.crm_accounts;
drop policy tenant_select on app_public.crm_accounts;
create policy tenant_select on app_public.crm_accounts for select
  using (tenant_id = app_public.current_tenant_id_for_role('viewer') and deleted_at is null);
comment on policy tenant_select on app_public.crm_accounts is
  'Live accounts (deleted_at null) of the current tenant, for its viewers and above; deleted ones come back through restoreCrmAccount.';
grant select on app_public.crm_accounts to penguinmails_member;
grant insert (name, domain, industry, street, city, state, country, postal_code, parent_account_id, custom_fields,
    company_size, employee_count, annual_revenue, revenue_currency),
  update (name, domain, industry, street, city, state, country, postal_code, parent_account_id, custom_fields,
    company_size, employee_count, annual_revenue, revenue_currency)
  on app_public.crm_accounts to penguinmails_member;

select app_private.apply_tenant_policies('app_public.deals', write_role => 'member');
drop policy tenant_delete on app_public.deals;
drop policy tenant_select on app_public.deals;
create policy tenant_select on app_public.deals for select
  using (tenant_id = app_public.current_tenant_id_for_role('viewer') and deleted_at is null);
comment on policy tenant_select on app_public.deals is
  'Live deals (deleted_at null) of the current tenant, for its viewers and above; deleted ones come back through restoreDeal.';
grant select on app_public.deals to penguinmails_member;
grant insert (title, value, currency, probability, stage, primary_lead_id, crm_account_id, owner_user_id,
    source_campaign_id, expected_close_date, actual_close_date, deal_source, description, notes),
  update (title, value, currency, probability, stage, primary_lead_id, crm_account_id, owner_user_id,
    source_campaign_id, expected_close_date, actual_close_date, deal_source, description, notes)
  on app_public.deals to penguinmails_member;

select app_private.apply_tenant_policies('app_public.deal_contacts', write_role => 'member');
grant select, delete on app_public.deal_contacts to penguinmails_member;
grant insert (deal_id, lead_id, role), update (role) on app_public.deal_contacts to penguinmails_member;
