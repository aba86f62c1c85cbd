/**
 * On a Citus cluster (npm run test:citus): the platform-wide functions that
 * jobs run as the owner across every tenant (the warm-up day reset, the DKIM
 * stock's orphan release, the IP lifecycle guard, dunning) work with tenant
 * tables spread over the worker nodes. Rows are set up with triggers off
 * and committed first, as in cluster.test.ts; each check is one owner
 * transaction, as a job's.
 */
import pg from 'pg';
import { isolatedDatabase } from '../helpers/api.ts';
import type { DatabaseUrls } from '../../src/db/database.ts';
import { citusWorkerRootUrls, withDatabase } from '../helpers/test-database.ts';

if (citusWorkerRootUrls().length === 0) throw new Error('test/citus/ runs on a Citus cluster: npm run test:citus');

let db: { urls: DatabaseUrls; drop(): Promise<void> };
let root: pg.Client;
let owner: pg.Client;

beforeAll(async () => {
  db = await isolatedDatabase('citus-maintenance');
  root = new pg.Client({ connectionString: withDatabase(db.urls.root!, db.urls.databaseName) });
  owner = new pg.Client({ connectionString: db.urls.owner });
  await Promise.all([root.connect(), owner.connect()]);
});
afterAll(async () => {
  await Promise.all([root?.end(), owner?.end()]);
  await db?.drop();
});

/** Runs statements as the superuser with triggers off, committed. */
async function seed<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  await root.query('begin');
  await root.query('set local session_replication_role = replica');
  const result = await fn(root);
  await root.query('commit');
  return result;
}

/** A tenant with a domain and an inbox in the given time zone, which sent 7 emails on its local yesterday. */
async function tenantWithBusyInbox(label: string, timezone: string): Promise<{ tenantId: string; domainId: string; inboxId: string }> {
  return seed(async (c) => {
    const { rows: [row] } = await c.query(
      `
      with tn as (insert into app_public.tenants (name) values ($1) returning id),
      d as (insert into app_public.domains (tenant_id, domain) select tn.id, $2 from tn returning tenant_id, id),
      ea as (
        insert into app_public.email_accounts (tenant_id, domain_id, email, timezone, daily_count, daily_count_date)
        select d.tenant_id, d.id, 'sender@' || $2, $3, 7, (now() at time zone $3)::date - 1 from d
        returning tenant_id, domain_id, id)
      select tenant_id, domain_id, id from ea
      `,
      [label, `${label}-${process.pid}.example`, timezone],
    );
    return { tenantId: row.tenant_id, domainId: row.domain_id, inboxId: row.id };
  });
}

test('warmup_tick starts a new day for inboxes of every tenant, each at its own midnight, on the worker nodes', async () => {
  const paris = await tenantWithBusyInbox('citus-tick-paris', 'Europe/Paris');
  const tokyo = await tenantWithBusyInbox('citus-tick-tokyo', 'Asia/Tokyo');
  const { rows: [tick] } = await owner.query('select app_private.warmup_tick() as result');
  expect(tick.result.inboxes_reset).toBeGreaterThanOrEqual(2);
  const { rows } = await owner.query(
    `select timezone, daily_count, daily_count_date = (now() at time zone timezone)::date as today
     from app_public.email_accounts where (tenant_id, id) in (($1::uuid, $2::uuid), ($3::uuid, $4::uuid)) order by timezone`,
    [paris.tenantId, paris.inboxId, tokyo.tenantId, tokyo.inboxId],
  );
  expect(rows).toEqual([
    { timezone: 'Asia/Tokyo', daily_count: 0, today: true },
    { timezone: 'Europe/Paris', daily_count: 0, today: true },
  ]);
});

test('an IP with a live domain assignment cannot go back to the pool; once the assignment expires, it can', async () => {
  const tenant = await tenantWithBusyInbox('citus-ip-guard', 'UTC');
  const { ipId, assignmentId } = await seed(async (c) => {
    const { rows: [ip] } = await c.query(
      `insert into app_public.smtp_ip_addresses (ip_address, status) values ($1::inet, 'assigned') returning id`,
      [`198.18.${process.pid % 250}.${1 + Math.floor(Math.random() * 250)}`],
    );
    const { rows: [a] } = await c.query(
      `insert into app_public.domain_ip_assignments (tenant_id, domain_id, smtp_ip_address_id, status) values ($1, $2, $3, 'active') returning id`,
      [tenant.tenantId, tenant.domainId, ip.id],
    );
    return { ipId: ip.id as string, assignmentId: a.id as string };
  });
  await owner.query('begin');
  try {
    await owner.query('savepoint refused');
    await expect(owner.query(`update app_public.smtp_ip_addresses set status = 'available' where id = $1`, [ipId])).rejects.toThrow(
      /still has 1 live domain assignment/,
    );
    await owner.query('rollback to savepoint refused');
    // The expiry, made in the same transaction, is what the guard counts.
    await owner.query(`update app_public.domain_ip_assignments set status = 'expired' where tenant_id = $1 and id = $2`, [tenant.tenantId, assignmentId]);
    await owner.query(`update app_public.smtp_ip_addresses set status = 'available' where id = $1`, [ipId]);
    const { rows: [ip] } = await owner.query('select status from app_public.smtp_ip_addresses where id = $1', [ipId]);
    expect(ip.status).toBe('available');
  } finally {
    await owner.query('rollback');
  }
});

test('a DKIM key claimed for a domain that was never inserted goes back to the stock; a claim whose domain exists stays', async () => {
  const tenant = await tenantWithBusyInbox('citus-dkim', 'UTC');
  const [orphan, kept] = await seed(async (c) => {
    const { rows } = await c.query(
      `insert into app_private.dkim_key_pool (public_key, private_key_encrypted, key_bits, claimed_tenant_id, claimed_domain_id)
       values ('orphan', 'sealed', 2048, $1, gen_random_uuid()), ('kept', 'sealed', 2048, $1, $2) returning id`,
      [tenant.tenantId, tenant.domainId],
    );
    return rows.map((r) => r.id as string);
  });
  const { rows: [released] } = await owner.query('select app_private.release_orphaned_dkim_claims() as n');
  expect(released.n).toBeGreaterThanOrEqual(1);
  const { rows } = await owner.query(
    'select id, claimed_domain_id is not null as claimed from app_private.dkim_key_pool where id = any ($1) order by public_key',
    [[orphan, kept]],
  );
  expect(rows).toEqual([
    { id: kept, claimed: true },
    { id: orphan, claimed: false },
  ]);
});
