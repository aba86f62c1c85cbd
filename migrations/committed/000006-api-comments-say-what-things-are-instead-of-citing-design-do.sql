--! Previous: sha1:0ce3c831600ebd2fbaf3d7bddfa54193f8d87cad
--! Hash: sha1:259cc62bec5d77e4c977afa2b73b6027374a2405
--! Message: API comments say what things are instead of citing design documents outside the repository

--! split: 1-current.sql
--------------------------------------------------------------------------------
-- Comments that cited design documents outside the repository ("seed 001")
-- now say what the thing is: they are the API's documentation
-- (PostGraphile turns them into schema.graphql descriptions).
--------------------------------------------------------------------------------
set local lock_timeout = '5s';
set local statement_timeout = '60s';

comment on function app_hidden.dns_record_problem(jsonb) is 'Why one entry of a domain''s dns_records document is malformed (null when it is valid): a known record_type, a relative name, a value (a DKIM record may wait for its key), the verification fields, and the fields of its type only.';
comment on function app_hidden.dns_records_problem(jsonb) is 'Why a dns_records document is malformed (null when it is valid): {"records": [...]} with valid entries and no record listed twice. The CHECK on domains.dns_records and every writer use it.';
comment on column app_public.messages.content_storage_key is 'Where the full raw message is kept outside the database; null when only body_text is kept.';
comment on column app_public.tenants.compute_id is 'Which compute/shard group the tenant belongs to. On one PostgreSQL every tenant shares the database; on Citus rows are placed by tenant_id.';
comment on table app_public.domains is 'A sending domain with the DNS records it must publish (the dns_records document) and their verification state.';
comment on column app_public.domains.dns_records is '{"records": [{record_type, name, value, ttl, verification_status, last_verified_at, verification_attempts, verification_error, source, …type-specific fields}]}: the records to publish and the result of checking each one.';
comment on column app_public.tenant_users.roles is 'Tenant roles: owner > admin > member > viewer. Owners and admins manage the organisation and its members; members work with the data; viewers read it.';
comment on column app_public.leads.crm_account_id is 'The CRM account (customer organisation) this lead works for.';
comment on column app_public.vps_instances.approximate_cost is 'Monthly cost attributed to the tenants it serves, for profitability analysis.';
comment on table app_private.password_reset_tokens is 'Password reset tokens, stored as SHA-256 hashes of the emailed token; single use, short-lived.';
comment on table app_public.companies is 'A workspace inside a tenant: groups domains and campaigns for one brand or client.';
comment on table app_public.crm_accounts is 'A customer organisation in the CRM, possibly part of a parent account.';
comment on column app_public.templates.is_started is 'True once a started campaign uses the template.';
