--! Previous: sha1:33316ff5b8ed2906406d360c34f52855946404a6
--! Hash: sha1:7a704f11e6046432c1deaa687aa47343e8fd0eb9
--! Message: validate the constraints 000031 added not valid

--! split: 1-current.sql
set local lock_timeout = '5s';
set local statement_timeout = '10min';

-- Validates what 000031 added NOT VALID.
alter table app_public.tenant_exports validate constraint tenant_exports_kind_check;
alter table app_public.tenant_exports validate constraint tenant_exports_format_check;
alter table app_public.tenant_exports validate constraint tenant_exports_campaign_check;
alter table app_public.tenant_exports validate constraint tenant_exports_rows_total_check;
alter table app_public.tenant_exports validate constraint tenant_exports_campaign_fkey;
alter table app_public.lead_imports validate constraint lead_imports_target_check;
alter table app_public.lead_imports validate constraint lead_imports_suppressions_options_check;
