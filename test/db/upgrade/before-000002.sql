-- Rows migration 000001 accepted that migration 000002's constraints refuse;
-- 000002 repairs them before adding the constraints (test/db/upgrade.test.ts
-- loads this only into databases built up to 000001).

-- A failed import without a reason (lead_imports_failure_reason_check).
insert into app_public.lead_imports (tenant_id, id, status, file_name, total_rows, errors, finished_at) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000703', 'failed', 'broken.csv', 3,
   '[{"row": 2, "message": "bad email"}]', now());

-- dns_records documents the old shape check accepted (domains_dns_records_valid):
-- an entry without a name or value, a record listed twice, a key beside "records".
insert into app_public.domains (tenant_id, id, domain, verification_status, verified, dns_records) values
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000303', 'broken.upgrade.test', 'verified', now(),
   '{"records": [
      {"record_type": "SPF", "name": "@", "value": "v=spf1 -all", "ttl": 3600, "verification_status": "verified", "verification_attempts": 1},
      {"record_type": "TXT"},
      {"record_type": "SPF", "name": "@", "value": "v=spf1 ~all", "ttl": 3600, "verification_status": "pending", "verification_attempts": 0}
    ], "note": "hand-edited"}'),
  ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000304', 'empty.upgrade.test', 'pending', null,
   '{"records": [{"record_type": "TXT"}]}');
