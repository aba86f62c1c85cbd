/**
 * Job completion under contention, in the real graphile-worker with our pool
 * and settings (src/worker/runner.ts). In CI a batch of completed jobs
 * deadlocked ("Failed to complete jobs '29', '30', '28': deadlock detected")
 * and the job runner stopped: graphile-worker deletes a batch in completion
 * order, while app_private.schedule_enrollments (resume, housekeeping) updates
 * the rows of running jobs in bulk. Now the batch is deleted in ascending id
 * order, the order schedule_enrollments locks running jobs in, so a writer
 * that takes job rows in that order never deadlocks with it.
 */
import { run, type Runner } from 'graphile-worker';
import pg from 'pg';
import { makeWorkerPgPool, workerSettings } from '../../src/worker/runner.ts';
import { isolatedDatabase } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';

let db: Awaited<ReturnType<typeof isolatedDatabase>>;
let pool: pg.Pool;
let runner: Runner | null = null;
const logged: string[] = [];

beforeAll(async () => {
  db = await isolatedDatabase('job_completion');
  pool = makeWorkerPgPool(db.urls.owner, (m) => logged.push(m));
});
afterAll(async () => {
  await runner?.stop().catch(() => undefined);
  await pool.end();
  await db.drop();
});

test('a batch completed out of id order waits instead of deadlocking with a writer that locks job rows in id order', async () => {
  // Three jobs; their tasks finish together in the order 2nd, 3rd, 1st (one batch, like '29', '30', '28').
  const finish = new Map<string, () => void>();
  const started = new Set<string>();
  const owner = new pg.Client({ connectionString: db.urls.owner });
  await owner.connect();
  try {
    const { rows: jobs } = await owner.query<{ id: string }>(
      `select (graphile_worker.add_job('hold', json_build_object('n', n), job_key => 'hold:' || n)).id from generate_series(1, 3) n order by 1`,
    );
    const ids = jobs.map((j) => j.id);
    // A queue of some size (jobs for tomorrow), so the batch delete looks each id up by index, in the batch's order.
    await owner.query(`select graphile_worker.add_jobs(array(select row('later', '{}'::json, null, now() + interval '1 day', null, null, null, null)::graphile_worker.job_spec from generate_series(1, 5000)))`);
    await owner.query('analyze graphile_worker._private_jobs');
    const failures: string[] = [];
    runner = await run({
      ...workerSettings(3, 100),
      pgPool: pool,
      noHandleSignals: true,
      crontab: '',
      taskList: {
        later: async () => undefined,
        hold: async (payload) => {
          const n = String((payload as { n: number }).n);
          started.add(n);
          await new Promise<void>((resolve) => finish.set(n, resolve));
        },
      },
      logger: new (await import('graphile-worker')).Logger(() => (level, message) => {
        if (level === 'error') failures.push(message);
      }),
    });
    await eventually(async () => started.size === 3, 20_000);

    // A writer holds the first job's row, as schedule_enrollments does when it locks running jobs in id order.
    const writer = new pg.Client({ connectionString: db.urls.owner });
    await writer.connect();
    try {
      await writer.query('begin');
      await writer.query('select 1 from graphile_worker._private_jobs where id = $1 for update', [ids[0]]);
      for (const n of ['2', '3', '1']) finish.get(n)!();
      // The batch is now waiting for the first row (in id order it asks for that one first, holding nothing).
      await eventually(async () => {
        const { rows } = await owner.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%_private_jobs as jobs%'`,
        );
        return rows[0]!.n === 1;
      }, 20_000);
      // The writer takes the next rows, in id order: with the batch holding the 2nd and 3rd, this was a deadlock.
      await writer.query('select 1 from graphile_worker._private_jobs where id = any ($1::bigint[]) order by id for update', [ids.slice(1)]);
      await writer.query('commit');
    } finally {
      await writer.end();
    }
    await eventually(async () => {
      const { rows } = await owner.query<{ n: number }>('select count(*)::int as n from graphile_worker._private_jobs where id = any ($1::bigint[])', [ids]);
      return rows[0]!.n === 0;
    }, 20_000);
    expect(failures).toEqual([]);
    expect(logged.filter((m) => m.includes('deadlock'))).toEqual([]);
  } finally {
    await owner.end();
  }
});
