--! Previous: sha1:39851a9df477d37b11ec76c4ff77098b82ef57a3
--! Hash: sha1:2d2d22fc0cf74e57db814c5389674eb3d4fa1c8f
--! Message: Custom tracking domains for white-label plans: tracking_domains and the platform-wide host claims

--! split: 1-current.sql
-- Enter migration here

--! split: 4-tracking-domains.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- Custom tracking domains (the plans' white_label feature): a tenant's own
-- host name, a CNAME to the platform's tracking host, that open, click and
-- unsubscribe links in its mail use instead of PUBLIC_URL's host
-- (functions/151-tracking-domains.sql, docs/tracking.md "Custom tracking
-- domain"). New tables: their indexes are built in this transaction.
create table if not exists app_public.tracking_domains (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  hostname text not null,
  status text not null default 'pending',
  expected_target text,
  verified_at timestamptz,
  last_checked_at timestamptz,
  last_error text,
  check_attempts integer not null default 0,
  next_check_at timestamptz,
  checked_as_of timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint tracking_domains_status_check check (status in ('pending', 'verified', 'failed')),
  constraint tracking_domains_hostname_check check (
    hostname = lower(hostname)
    and length(hostname) <= 253
    and hostname ~ '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$'
  ),
  constraint tracking_domains_verified_check check ((status = 'verified') = (verified_at is not null)),
  constraint tracking_domains_check_attempts_check check (check_attempts >= 0)
);
comment on table app_public.tracking_domains is E'@behavior -insert -update\nThe organisation''s custom tracking domain (plans with whiteLabel): a host name of its own, e.g. track.example.com, published as a CNAME to the platform''s tracking host. While it is verified and the plan includes white label, the open pixel, click and unsubscribe links (and List-Unsubscribe headers) of its campaign mail use this host instead of the platform''s. One per organisation. Add it with addTrackingDomain and check it again with verifyTrackingDomain (owners and admins); every member can read it.';
comment on column app_public.tracking_domains.hostname is 'The host name, lower-case, without a trailing dot (e.g. track.example.com). It must be a CNAME to the platform''s tracking host (expectedTarget once checked; docs/tracking.md).';
comment on column app_public.tracking_domains.status is 'pending (not verified yet), verified (the CNAME points at the platform: links use this host), failed (the CNAME is missing or wrong, or another organisation verified this host first). A temporary DNS failure changes nothing.';
comment on column app_public.tracking_domains.expected_target is 'The host the CNAME must point to, as the last check expected it (the platform''s TRACKING_CNAME_TARGET, else the host of its PUBLIC_URL); null before the first check.';
comment on column app_public.tracking_domains.verified_at is 'When the host last became verified; null while it is not.';
comment on column app_public.tracking_domains.last_checked_at is 'When its DNS was last checked.';
comment on column app_public.tracking_domains.last_error is 'Why the last check did not verify it (what was found and what is expected), or the temporary DNS failure of the last check; null after a clean check.';
comment on column app_public.tracking_domains.check_attempts is 'Consecutive checks with the same outcome (verified or not); drives the backoff of the next check.';
comment on column app_public.tracking_domains.next_check_at is 'When it is checked again: 1, 2, 4 … minutes (at most 6 hours) while not verified, daily once verified.';
comment on column app_public.tracking_domains.checked_as_of is 'When the check recorded last was planned: an older check finishing later is ignored.';
create unique index if not exists tracking_domains_one_per_tenant on app_public.tracking_domains (tenant_id);
create index if not exists tracking_domains_next_check_idx on app_public.tracking_domains (next_check_at);
create index if not exists tracking_domains_hostname_idx on app_public.tracking_domains (hostname);

-- Who holds a verified host, platform-wide: one row per host name, so two
-- organisations can never both have the same host verified (the primary
-- key), whatever node their rows live on. Written only by
-- app_private.record_tracking_domain_check.
create table if not exists app_private.tracking_domain_claims (
  hostname text primary key check (hostname = lower(hostname)),
  tenant_id uuid not null,
  tracking_domain_id uuid not null,
  created timestamptz not null default now(),
  updated timestamptz not null default now()
);
comment on table app_private.tracking_domain_claims is 'The organisation (and its tracking_domains row) that verified each custom tracking host: at most one per host name. A claim whose row is gone or no longer verified is stale and is taken over by the next organisation that verifies the host.';
create index if not exists tracking_domain_claims_tenant_idx on app_private.tracking_domain_claims (tenant_id, tracking_domain_id);
