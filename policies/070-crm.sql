--------------------------------------------------------------------------------
-- CRM pipeline: members work deals; deleting is soft (deleted_at) by convention.
--------------------------------------------------------------------------------

select app_private.apply_tenant_policies('app_public.crm_accounts', write_role => 'member');
grant select, delete on app_public.crm_accounts to penguinmails_member;
grant insert (name, domain, industry, street, city, state, country, postal_code, parent_account_id, custom_fields,
    company_size, employee_count, annual_revenue, revenue_currency),
  update (name, domain, industry, street, city, state, country, postal_code, parent_account_id, custom_fields,
    company_size, employee_count, annual_revenue, revenue_currency, deleted_at)
  on app_public.crm_accounts to penguinmails_member;

select app_private.apply_tenant_policies('app_public.deals', write_role => 'member');
grant select, delete on app_public.deals to penguinmails_member;
grant insert (title, value, currency, probability, stage, primary_lead_id, crm_account_id, owner_user_id,
    source_campaign_id, expected_close_date, actual_close_date, deal_source, description, notes),
  update (title, value, currency, probability, stage, primary_lead_id, crm_account_id, owner_user_id,
    source_campaign_id, expected_close_date, actual_close_date, deal_source, description, notes, deleted_at)
  on app_public.deals to penguinmails_member;

select app_private.apply_tenant_policies('app_public.deal_contacts', write_role => 'member');
grant select, delete on app_public.deal_contacts to penguinmails_member;
grant insert (deal_id, lead_id, role), update (role) on app_public.deal_contacts to penguinmails_member;
