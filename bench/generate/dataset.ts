/**
 * Generating the benchmark's data set end to end: rebuild the database from
 * the migrations, load the planned data, drop the jobs the load queued as a
 * side effect (DKIM keys for thousands of seeded domains are not what the
 * worker figures measure), prove the analytics rollup the triggers kept
 * during the COPYs equals a rebuild from the raw messages, and record what
 * was generated in the database's comment so `--skip-generate` can reuse it.
 */
import pg from 'pg';
import { makePlan, type DatasetPlan } from './plan.ts';
import { loadDataset, type TableLoad } from './load.ts';
import { campaignId, type TenantRefs } from './rows.ts';

export interface DatasetSizes {
  tenants: number;
  leads: number;
  messages: number;
}

export interface Subjects {
  /** The largest tenant: the one the API figures act as. */
  tenantId: string;
  tenantName: string;
  tenantLeads: number;
  ownerId: string;
  /** Its largest campaign. */
  campaignId: string;
  campaignMessages: number;
}

export interface RollupCheck {
  tenantId: string;
  campaigns: number;
  campaignDays: number;
  mismatches: number;
  seconds: number;
}

export interface DatasetInfo {
  seed: number;
  sizes: DatasetSizes;
  anchor: string;
  generatedAt: string;
  loadSeconds: number;
  tables: TableLoad[];
  purgedJobs: Record<string, number>;
  rollupCheck: RollupCheck;
  subjects: Subjects;
}

const MARKER = 'penguinmails-bench:';

export function planFor(seed: number, sizes: DatasetSizes, anchor: Date): DatasetPlan {
  return makePlan({ seed, ...sizes, anchor });
}

/**
 * Removes the jobs queued by the load (by task), returning how many of each.
 * On Citus, jobs that triggers queued on a worker node wait in
 * app_private.job_outbox until the product's worker moves them to the queue
 * (functions/002-jobs.sql); they are moved first, as that worker would, so
 * they are counted and removed too (on one node the outbox is empty).
 */
async function purgeQueuedJobs(client: pg.ClientBase): Promise<Record<string, number>> {
  await client.query('select app_private.drain_job_outbox()');
  const { rows } = await client.query<{ task: string; n: string }>(
    `select task_identifier as task, count(*) as n from graphile_worker.jobs group by 1 order by 1`,
  );
  await client.query(`select graphile_worker.complete_jobs(array(select id from graphile_worker.jobs))`);
  return Object.fromEntries(rows.map((r) => [r.task, Number(r.n)]));
}

/**
 * The incremental rollup (kept by the statement-level triggers during every
 * COPY) against app_private.rebuild_campaign_stats() for one tenant, per
 * campaign and day, inside a transaction that is rolled back.
 */
export async function checkRollup(client: pg.ClientBase, tenantId: string): Promise<RollupCheck> {
  const started = performance.now();
  const read = async () => {
    const { rows } = await client.query<{ key: string; v: string }>(
      `select campaign_id || ' ' || day as key,
              concat_ws(',', sum(sent), sum(delivered), sum(opened), sum(clicked), sum(replied), sum(bounced), sum(failed),
                        sum(unsubscribed), sum(complained), sum(opens_total), sum(clicks_total)) as v
       from app_public.campaign_stats_daily where tenant_id = $1 group by campaign_id, day`,
      [tenantId],
    );
    return new Map(rows.map((r) => [r.key, r.v]));
  };
  await client.query('begin');
  try {
    const incremental = await read();
    await client.query('select app_private.rebuild_campaign_stats($1)', [tenantId]);
    const rebuilt = await read();
    let mismatches = 0;
    for (const key of new Set([...incremental.keys(), ...rebuilt.keys()])) {
      if (incremental.get(key) !== rebuilt.get(key)) mismatches++;
    }
    const campaigns = new Set([...rebuilt.keys()].map((k) => k.split(' ')[0])).size;
    return { tenantId, campaigns, campaignDays: rebuilt.size, mismatches, seconds: (performance.now() - started) / 1000 };
  } finally {
    await client.query('rollback');
  }
}

export async function generateDataset(
  ownerUrl: string,
  { seed, sizes, anchor = new Date(), parallel = 2, log = () => undefined }:
    { seed: number; sizes: DatasetSizes; anchor?: Date; parallel?: number; log?: (line: string) => void },
): Promise<DatasetInfo> {
  const plan = planFor(seed, sizes, anchor);
  const loaded = await loadDataset(ownerUrl, plan, { parallel, log });
  return finishDataset(ownerUrl, plan, loaded.refs[0]!, { seconds: loaded.seconds, tables: loaded.tables }, log);
}

/** After the load: purge side-effect jobs, check the rollup, pick the subjects, record the data set. */
export async function finishDataset(
  ownerUrl: string,
  plan: DatasetPlan,
  largestRefs: TenantRefs,
  loaded: { seconds: number; tables: TableLoad[] },
  log: (line: string) => void = () => undefined,
): Promise<DatasetInfo> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const purgedJobs = await purgeQueuedJobs(client);
    const largest = plan.tenants[0]!;
    const rollupCheck = await checkRollup(client, largestRefs.tenantId);
    if (rollupCheck.mismatches > 0) {
      throw new Error(
        `The analytics rollup kept by the triggers during the load differs from app_private.rebuild_campaign_stats() ` +
          `for tenant ${largestRefs.tenantId} on ${rollupCheck.mismatches} of ${rollupCheck.campaignDays} campaign-days.`,
      );
    }
    log(`  rollup check: ${rollupCheck.campaignDays} campaign-days of ${rollupCheck.campaigns} campaigns equal a rebuild from the raw messages (${rollupCheck.seconds.toFixed(1)} s)`);
    // The campaign with the most messages: the heaviest statistics to compute.
    const { rows } = await client.query<{ campaign_id: string; n: string }>(
      `select campaign_id, count(*) as n from app_public.messages where tenant_id = $1 and campaign_id is not null
       group by campaign_id order by count(*) desc, campaign_id limit 1`,
      [largestRefs.tenantId],
    );
    const info: DatasetInfo = {
      seed: plan.options.seed,
      sizes: { tenants: plan.options.tenants, leads: plan.options.leads, messages: plan.options.messages },
      anchor: new Date(plan.anchorMs).toISOString(),
      generatedAt: new Date().toISOString(),
      loadSeconds: loaded.seconds,
      tables: loaded.tables,
      purgedJobs,
      rollupCheck,
      subjects: {
        tenantId: largestRefs.tenantId,
        tenantName: largest.name,
        tenantLeads: largest.leads,
        ownerId: largestRefs.userIds[0]!,
        campaignId: rows[0]?.campaign_id ?? campaignId(plan, largest, 0),
        campaignMessages: Number(rows[0]?.n ?? 0),
      },
    };
    const { rows: db } = await client.query<{ d: string }>('select current_database() as d');
    await client.query(`comment on database ${pg.escapeIdentifier(db[0]!.d)} is ${pg.escapeLiteral(MARKER + JSON.stringify(info))}`);
    return info;
  } finally {
    await client.end();
  }
}

/** What the last complete generation recorded, or null when there is none. */
export async function readDatasetInfo(ownerUrl: string): Promise<DatasetInfo | null> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ comment: string | null }>(
      `select shobj_description(oid, 'pg_database') as comment from pg_database where datname = current_database()`,
    );
    const comment = rows[0]?.comment;
    return comment?.startsWith(MARKER) ? (JSON.parse(comment.slice(MARKER.length)) as DatasetInfo) : null;
  } catch {
    return null;
  } finally {
    await client.end();
  }
}
