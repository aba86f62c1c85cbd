--! Previous: sha1:6fe6b96ffb066328b7fd130e542c0e66602c2a75
--! Hash: sha1:a5f73ee54e0e38f34aa167c7beb44fd326ab4cf1
--! Message: tenant_exports: a whole organisation's data as one archive

--! split: 1-current.sql
-- Enter migration here

--! split: 2-tenant-export.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- A whole organisation's data as one archive (functions/287-tenant-export.sql,
-- workers/tenant-export.ts, docs/privacy.md "A whole organisation's data").
create table if not exists app_public.tenant_exports (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  status text not null default 'queued',
  requested_by uuid references app_public.users (id) on delete set null,
  tables_total integer check (tables_total >= 0),
  tables_done integer not null default 0 check (tables_done >= 0),
  rows_written bigint not null default 0 check (rows_written >= 0),
  byte_size bigint check (byte_size >= 0),
  sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
  error text check (length(error) <= 2000),
  started_at timestamptz,
  finished_at timestamptz,
  expires_at timestamptz,
  downloads integer not null default 0 check (downloads >= 0),
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint tenant_exports_status_check check (status in ('queued', 'running', 'completed', 'failed', 'expired')),
  constraint tenant_exports_progress_check check (tables_total is null or tables_done <= tables_total),
  constraint tenant_exports_completed_check check (
    status <> 'completed' or (byte_size is not null and sha256 is not null and finished_at is not null and expires_at is not null)),
  constraint tenant_exports_failed_check check (status <> 'failed' or error is not null)
);
comment on table app_public.tenant_exports is E'@behavior -insert -update -delete\nAn export of the whole organisation''s data (every tenant table of the API schema, one NDJSON file per table, in one .tar.gz with a manifest), requested by an owner or admin (requestTenantExport) and written by the worker. Download the archive with GET /exports/<rowId> and your token until expiresAt (7 days after it is written); the file is then deleted.';
comment on column app_public.tenant_exports.status is 'queued (waiting for the worker), running, completed (downloadable until expiresAt), failed (see error), expired (the file was deleted).';
comment on column app_public.tenant_exports.requested_by is 'The user who asked for the export.';
comment on column app_public.tenant_exports.tables_total is 'How many tables the archive holds (known once the worker starts).';
comment on column app_public.tenant_exports.tables_done is 'Progress: how many tables are written so far.';
comment on column app_public.tenant_exports.rows_written is 'Progress: how many rows are written so far, over every table.';
comment on column app_public.tenant_exports.byte_size is 'Size of the .tar.gz archive in bytes.';
comment on column app_public.tenant_exports.sha256 is 'Hex SHA-256 of the .tar.gz archive, to check a download.';
comment on column app_public.tenant_exports.error is 'Why the export failed.';
comment on column app_public.tenant_exports.expires_at is 'Until when the archive can be downloaded; it is deleted after.';
comment on column app_public.tenant_exports.downloads is 'How many times the archive was downloaded (each download is also in the audit log).';
-- One export of an organisation at a time.
create unique index if not exists tenant_exports_one_active_idx on app_public.tenant_exports (tenant_id) where status in ('queued', 'running');
create index if not exists tenant_exports_requested_by_idx on app_public.tenant_exports (requested_by);
create index if not exists tenant_exports_expires_idx on app_public.tenant_exports (expires_at) where status = 'completed';
alter table app_public.tenant_exports enable row level security;
alter table app_public.tenant_exports force row level security;
