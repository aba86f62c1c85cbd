/**
 * A keyed job added while a worker is fetching the pending job of that key
 * (app_private.add_job, functions/002-jobs.sql). graphile_worker.add_job
 * clears the key of a running job, then inserts ON CONFLICT (key) DO UPDATE
 * … WHERE locked_at IS NULL; a worker locking the pending job between the
 * two made the add a silent no-op, although the job it left running may have
 * read the world before the adding transaction's change (a plan change not
 * synced to Stripe, a domain not re-verified). Now the add waits for the
 * fetch and then adds a job of its own.
 */
import pg from 'pg';
import { createPool } from '../../src/db/pg.ts';
import { isolatedDatabase } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';
import { createSendingTenant } from '../tracking/fixtures.ts';

let db: Awaited<ReturnType<typeof isolatedDatabase>>;
const clients: pg.Client[] = [];

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.urls.owner });
  await client.connect();
  clients.push(client);
  return client;
}

beforeAll(async () => {
  db = await isolatedDatabase('job_keys');
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await db.drop();
});

/** How each way of queueing adds its keyed job, after a first add left one pending: [job key, the second add]. */
const ADDS: Record<string, (owner: pg.Client) => Promise<[string, string]>> = {
  'app_private.add_job': async (owner) => {
    await owner.query(`select app_private.add_job(null, 'key_probe', json_build_object('n', 1), job_key => 'probe:1')`);
    return ['probe:1', `select app_private.add_job(null, 'key_probe', json_build_object('n', 2), job_key => 'probe:1')`];
  },
  'app_private.schedule_enrollment (one enrollment)': async (owner) => {
    const fixtures = createPool({ connectionString: db.urls.owner, bigIntMode: 'string', poolSize: 1 });
    try {
      const { tenantId, leads: [lead] } = await createSendingTenant(fixtures, 'jobkeys', { leads: 1 });
      await owner.query(`select app_private.schedule_enrollment($1, $2, now() + interval '1 hour')`, [tenantId, lead!.enrollmentId]);
      return [`campaign_step:${lead!.enrollmentId}`, `select app_private.schedule_enrollment('${tenantId}', '${lead!.enrollmentId}', now() + interval '2 hours')`];
    } finally {
      await fixtures.dispose();
    }
  },
};

test.each(Object.keys(ADDS))('%s while a worker is locking the pending job of its key: the add waits and queues a new job', async (name) => {
  const owner = await connect();
  const [key, add] = await ADDS[name]!(owner);

  // A worker fetching the pending job: its UPDATE of locked_at, not yet committed.
  const worker = await connect();
  await worker.query('begin');
  const { rowCount } = await worker.query(`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'probe:' || $1 where key = $1`, [key]);
  expect(rowCount).toBe(1);

  // The add, in its own transaction, while that fetch is under way.
  const adder = await connect();
  await adder.query('begin');
  const added = adder.query(add);
  await eventually(async () => {
    const { rows } = await owner.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and pid = $1`,
      [(adder as unknown as { processID: number }).processID],
    );
    return rows[0]!.n === 1;
  }, 20_000);
  await worker.query('commit');
  await added;
  await adder.query('commit');

  const jobs = (await owner.query<{ key: string | null; locked: boolean }>(
    `select j.key, j.locked_at is not null as locked from graphile_worker._private_jobs j
     where j.key = $1 or j.locked_by = 'probe:' || $1 order by j.id`,
    [key],
  )).rows;
  // The fetched job keeps running without its key; the add is a job of its own, pending under the key.
  expect(jobs).toEqual([
    { key: null, locked: true },
    { key, locked: false },
  ]);
});
