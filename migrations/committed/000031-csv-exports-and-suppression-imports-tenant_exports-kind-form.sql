--! Previous: sha1:a8db62d039213bd9cc5232f18b71711512e2a45d
--! Hash: sha1:33316ff5b8ed2906406d360c34f52855946404a6
--! Message: CSV exports and suppression imports: tenant_exports kind, format, campaign; lead_imports target

--! split: 1-current.sql
-- Enter migration here

--! split: 5-csv-exports.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- CSV exports of leads, suppressions and one campaign's results, written by
-- the tenant export machinery (functions/288-data-exports.sql,
-- workers/tenant-export.ts, docs/privacy.md "CSV exports").
-- tenant_exports is a small table (a few rows per organisation and week), so
-- its indexes are built in this transaction.
alter table app_public.tenant_exports add column if not exists kind text not null default 'tenant';
alter table app_public.tenant_exports add column if not exists format text not null default 'tar.gz';
alter table app_public.tenant_exports add column if not exists campaign_id uuid;
alter table app_public.tenant_exports add column if not exists rows_total bigint;

alter table app_public.tenant_exports drop constraint if exists tenant_exports_kind_check;
alter table app_public.tenant_exports add constraint tenant_exports_kind_check
  check (kind in ('tenant', 'leads', 'suppressions', 'campaign_results')) not valid;
alter table app_public.tenant_exports drop constraint if exists tenant_exports_format_check;
alter table app_public.tenant_exports add constraint tenant_exports_format_check
  check (format = case when kind = 'tenant' then 'tar.gz' else 'csv' end) not valid;
alter table app_public.tenant_exports drop constraint if exists tenant_exports_campaign_check;
alter table app_public.tenant_exports add constraint tenant_exports_campaign_check
  check ((kind = 'campaign_results') = (campaign_id is not null)) not valid;
alter table app_public.tenant_exports drop constraint if exists tenant_exports_rows_total_check;
alter table app_public.tenant_exports add constraint tenant_exports_rows_total_check
  check (rows_total is null or rows_total >= 0) not valid;
alter table app_public.tenant_exports drop constraint if exists tenant_exports_campaign_fkey;
alter table app_public.tenant_exports add constraint tenant_exports_campaign_fkey
  foreign key (tenant_id, campaign_id) references app_public.campaigns (tenant_id, id) on delete cascade not valid;

-- squawk-ignore require-concurrent-index-creation
create index if not exists tenant_exports_campaign_idx on app_public.tenant_exports (tenant_id, campaign_id);
-- One active export per organisation and kind (was: per organisation).
-- squawk-ignore require-concurrent-index-creation
create unique index if not exists tenant_exports_one_active_kind_idx on app_public.tenant_exports (tenant_id, kind)
  where status in ('queued', 'running');
-- squawk-ignore require-concurrent-index-deletion
drop index if exists app_public.tenant_exports_one_active_idx;

comment on table app_public.tenant_exports is E'@behavior -insert -update -delete\nAn export of the organisation''s data, written by the worker: kind tenant is the whole organisation (every tenant table of the API schema, one NDJSON file per table, in one .tar.gz with a manifest; owners and admins, requestTenantExport); kinds leads, suppressions and campaign_results are one CSV file each (members and above, requestCsvExport). Download the file with GET /exports/<rowId> and your token until expiresAt (7 days after it is written); the file is then deleted.';
comment on column app_public.tenant_exports.kind is 'What is exported: tenant (the whole organisation, .tar.gz), leads, suppressions or campaign_results (one CSV file each).';
comment on column app_public.tenant_exports.format is 'The file''s format: tar.gz (kind tenant) or csv.';
comment on column app_public.tenant_exports.campaign_id is 'The campaign whose results are exported (kind campaign_results only).';
comment on column app_public.tenant_exports.rows_total is 'Progress of a CSV export: how many rows the file will hold, counted when the worker starts (rowsWritten / rowsTotal is the fraction done).';

-- Suppression list imports: a lead import whose target is the suppression
-- list (POST /imports/suppressions; functions/288-data-exports.sql).
alter table app_public.lead_imports add column if not exists target text not null default 'leads';
alter table app_public.lead_imports drop constraint if exists lead_imports_target_check;
alter table app_public.lead_imports add constraint lead_imports_target_check
  check (target in ('leads', 'suppressions')) not valid;
alter table app_public.lead_imports drop constraint if exists lead_imports_suppressions_options_check;
alter table app_public.lead_imports add constraint lead_imports_suppressions_options_check
  check (target = 'leads' or (contact_list_id is null and not update_existing and not keep_unmapped)) not valid;
comment on column app_public.lead_imports.target is 'What the file fills: leads (POST /imports/leads) or the suppression list (POST /imports/suppressions: one email address or domain per row; importedRows counts the new suppressions, skippedRows the invalid, duplicate and already suppressed rows). A suppression import takes no list, updateExisting or keepUnmapped.';
