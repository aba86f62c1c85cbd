/**
 * A domain's dns_records document and the messages the verify_domain task
 * exchanges with the database, as zod schemas. The database enforces the same
 * shape (app_private.dns_records_problem, a CHECK on domains.dns_records);
 * these schemas validate what the worker reads and what it writes back.
 */
import { z } from 'zod';

export const VerificationStatus = z.enum(['pending', 'verified', 'failed', 'error']);

const name = z.string().regex(/^(@|[A-Za-z0-9_][A-Za-z0-9_-]{0,62}(\.[A-Za-z0-9_][A-Za-z0-9_-]{0,62})*)$/, 'must be "@" or a relative DNS name');

const common = {
  name,
  value: z.string().min(1).max(4096),
  ttl: z.number().int().min(0).optional(),
  verification_status: VerificationStatus,
  last_verified_at: z.iso.datetime({ offset: true }).nullable().optional(),
  verification_attempts: z.number().int().min(0),
  verification_error: z.string().nullable().optional(),
  source: z.enum(['ui', 'platform', 'api']).optional(),
};

export const SpfRecord = z
  .object({
    ...common,
    record_type: z.literal('SPF'),
    dns_lookups: z.number().int().min(0).optional(),
    void_lookups: z.number().int().min(0).optional(),
  })
  .strict();

export const DkimRecord = z
  .object({
    ...common,
    record_type: z.literal('DKIM'),
    /** Null while the key is being generated. */
    value: z.string().min(1).max(4096).nullable(),
    selector: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
    public_key: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/).nullable().optional(),
    managed_by: z.enum(['platform', 'mailu']).optional(),
    secret_ref: z.string().nullable().optional(),
    needs_deployment: z.boolean().optional(),
    /** active: the key mail is signed with; next: a rotated key waiting to be published. */
    role: z.enum(['active', 'next']).optional(),
  })
  .strict();

export const DmarcRecord = z
  .object({ ...common, record_type: z.literal('DMARC'), policy: z.enum(['none', 'quarantine', 'reject']).nullable().optional() })
  .strict();

export const MxRecord = z
  .object({
    ...common,
    record_type: z.literal('MX'),
    priority: z.number().int().min(0).max(65535),
    mx_hosts: z.array(z.string()).optional(),
  })
  .strict();

export const AddressOrAliasRecord = z.object({ ...common, record_type: z.enum(['A', 'AAAA', 'CNAME']) }).strict();

export const DnsRecord = z.discriminatedUnion('record_type', [SpfRecord, DkimRecord, DmarcRecord, MxRecord, AddressOrAliasRecord]);
export type DnsRecord = z.infer<typeof DnsRecord>;

export const DnsRecordsDocument = z.object({ records: z.array(DnsRecord) }).strict();
export type DnsRecordsDocument = z.infer<typeof DnsRecordsDocument>;

/** The full host name of a record ("@" is the domain itself). */
export function recordHost(record: Pick<DnsRecord, 'name'>, domain: string): string {
  return (record.name === '@' ? domain : `${record.name}.${domain}`).toLowerCase();
}

/** What verify_domain needs (app_private.domain_check_plan). */
export const CheckPlan = z.object({
  domain: z.string().min(1),
  /** Hash of the records to publish; results are recorded only if it still matches. */
  fingerprint: z.string().regex(/^[0-9a-f]{32}$/),
  /** When the plan was read; a check planned earlier than the last recorded one is dropped. */
  planned_at: z.string().min(1),
  records: z.array(DnsRecord),
  spf_include: z.string().min(1),
  sending_ips: z.array(z.string()),
  /** Providers of the domain's Google and Microsoft inboxes: their SPF includes are required too. */
  inbox_providers: z.array(z.enum(['google', 'microsoft'])),
});
export type CheckPlan = z.infer<typeof CheckPlan>;

/** What verify_domain found for one record (app_private.record_domain_check). */
export const CheckResult = z
  .object({
    record_type: z.enum(['SPF', 'DKIM', 'DMARC', 'MX', 'A', 'AAAA', 'CNAME']),
    name,
    status: z.enum(['verified', 'failed', 'error']),
    error: z.string().min(1).nullable(),
    ttl: z.number().int().min(0).nullable(),
    details: z
      .object({
        policy: z.enum(['none', 'quarantine', 'reject']).optional(),
        mx_hosts: z.array(z.string()).optional(),
        dns_lookups: z.number().int().min(0).optional(),
        void_lookups: z.number().int().min(0).optional(),
      })
      .strict(),
  })
  .strict()
  .refine((r) => (r.status === 'verified') === (r.error === null), { message: 'a check has an error exactly when it is not verified' });
export type CheckResult = z.infer<typeof CheckResult>;
