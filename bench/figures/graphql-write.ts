/**
 * Figure 4 — GraphQL write: createLead mutations from `concurrency` clients
 * (a unique email each) into the largest tenant; anchor: the INSERT
 * PostGraphile sent for that mutation (captured), replayed through `pg` in
 * the same transaction shape with a fresh email each time. A second anchor
 * spreads the same inserts over as many tenants, which shows whether the
 * per-tenant contacts gauge (kept exact for the plan limit) makes writers of
 * one tenant wait for each other.
 * Everything written is deleted afterwards.
 */
import pg from 'pg';
import { asMember, captureStatements, mainStatement } from '../lib/capture.ts';
import type { BenchContext } from '../lib/context.ts';
import { loadTest } from '../lib/http-load.ts';
import { compare, type FigureResult, type Measurement } from '../lib/report.ts';
import { apiLikePool, runStatements, type Statement } from '../lib/sql.ts';
import { closedLoop } from '../lib/stats.ts';
import { cpuMeasurements, describeSplit, watchCpu, withoutSampler } from '../lib/cpu.ts';
import { describeProfile, sampleActivity } from '../lib/activity.ts';

const DOMAIN = 'write.bench.example';

export const CREATE_LEAD = `mutation CreateLead($input: CreateLeadInput!) {
  createLead(input: $input) { lead { rowId email } }
}`;

function leadInput(email: string) {
  return {
    lead: {
      email, firstName: 'Bench', lastName: 'Writer', company: 'Load Test Ltd', title: 'CTO',
      customFields: { industry: 'saas', score: 50, tier: 'gold' },
    },
  };
}

/** The captured statements with the email replaced. */
function withEmail(statements: Statement[], captured: string, email: string): Statement[] {
  return statements.map((s) => (s.values?.includes(captured) ? { ...s, values: s.values.map((v) => (v === captured ? email : v)) } : s));
}

/**
 * `removeWrites: false` leaves the leads in place: for a database thrown away
 * right after (the --citus cluster, where deleting leads fails, see
 * figures/citus.ts).
 */
export async function graphqlWrite(ctx: BenchContext, { removeWrites = true } = {}): Promise<Omit<FigureResult, 'key' | 'number' | 'title'>> {
  const api = await ctx.api();
  const { durationSec, warmupSec, concurrency } = ctx.options;
  const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  let n = 0;
  const nextEmail = (kind: string) => `bench-${kind}-${run}-${(n++).toString(36)}@${DOMAIN}`;

  const sample = nextEmail('sample');
  const captured = await captureStatements(api, ctx.token, { query: CREATE_LEAD, variables: { input: leadInput(sample) } });
  if (!mainStatement(captured.statements).values?.includes(sample)) {
    throw new Error('The captured createLead statement does not carry the email as a parameter; cannot replay it with fresh emails.');
  }

  const owner = new pg.Pool({ connectionString: ctx.db.urls.owner, max: 2 });
  const pool = apiLikePool(ctx.db.urls.authenticator);
  try {
    ctx.log(`  API: createLead, ${concurrency} connections × ${durationSec} s`);
    const apiLoad = {
      url: api.url, token: ctx.token, connections: concurrency,
      body: () => JSON.stringify({ query: CREATE_LEAD, variables: { input: leadInput(nextEmail('api')) } }),
      verify: (body: string) => body.includes('"createLead":{"lead":{"rowId"') && !body.includes('"errors"'),
    };
    await loadTest({ ...apiLoad, durationSec: warmupSec, warmupSec: 0 });
    const apiCpu = await watchCpu(pool, api);
    const apiRun = await loadTest({ ...apiLoad, durationSec, warmupSec: 0 });
    const apiSplit = apiCpu();

    ctx.log(`  anchor: the captured INSERT through pg, ${concurrency} clients × ${durationSec} s`);
    const insert = () => runStatements(pool, withEmail(captured.statements, sample, nextEmail('sql'))).then(() => undefined);
    await closedLoop({ concurrency, durationMs: warmupSec * 1000, op: insert });
    const anchorCpu = await watchCpu(pool, api);
    const sampler = sampleActivity(ctx.monitorUrl);
    const oneTenant = await closedLoop({ concurrency, durationMs: durationSec * 1000, op: insert });
    const oneTenantProfile = await sampler.stop();
    const anchorSplit = withoutSampler(anchorCpu(), oneTenantProfile);

    // The same statement as the owners of the next `concurrency` largest tenants (by their contacts gauge), one tenant per client.
    const { rows: others } = await owner.query<{ tenant_id: string; user_id: string }>(
      `select tu.tenant_id, tu.user_id
       from app_private.resource_counts rc
       join app_public.tenant_users tu on tu.tenant_id = rc.tenant_id and 'owner' = any (tu.roles)
       where rc.resource = 'contacts' and rc.tenant_id <> $1
       order by rc.value desc, rc.tenant_id limit $2`,
      [ctx.dataset.subjects.tenantId, concurrency],
    );
    const sessions = await Promise.all(others.map((o) => ctx.session(o.user_id, o.tenant_id)));
    const perSession = sessions.map((s) => asMember(captured.statements, s.settings));
    const spread = await closedLoop({
      concurrency, durationMs: durationSec * 1000, warmupMs: warmupSec * 1000,
      op: (client) => runStatements(pool, withEmail(perSession[client % perSession.length]!, sample, nextEmail('spread'))).then(() => undefined),
    });

    const product: Measurement = { label: `API createLead ×${concurrency} (one tenant)`, side: 'product', summary: apiRun };
    const anchor: Measurement = { label: `same INSERT via pg ×${concurrency} (one tenant)`, side: 'anchor', summary: oneTenant };
    const anchorSpread: Measurement = { label: `same INSERT via pg ×${concurrency} (${sessions.length} tenants)`, side: 'info', summary: spread };
    return {
      profiles: { oneTenantInserts: oneTenantProfile },
      measurements: [
        product, anchor, anchorSpread,
        ...cpuMeasurements(apiSplit, apiRun.count, { server: 'API process', per: 'createLead' }),
        ...cpuMeasurements(anchorSplit, oneTenant.count, { per: 'INSERT via pg' }),
      ],
      comparisons: [
        compare('GraphQL write throughput', product, anchor, 'perSecond', (x) => `API overhead ×${x}`),
        compare('GraphQL write p50 latency', product, anchor, 'p50', (x) => `×${x} the SQL's latency`),
        compare('one tenant vs many (the contacts gauge)', anchor, anchorSpread, 'perSecond', (_, r) => `one tenant at ×${r} the rate of ${sessions.length} tenants`),
      ],
      notes: [
        'Each insert runs the leads triggers: the statement-level contacts gauge and its plan-limit check (app_private.resource_counts: a shard per backend, a shared lock far from the limit, so writers of one tenant do not queue on one row; functions/250-billing-gauges.sql).',
        'synchronous_commit is on: every createLead waits for its WAL flush.',
        `CPU during the API run: ${describeSplit(apiSplit, `${apiRun.count} mutations`, 'API process')}`,
        `Database profile of the one-tenant INSERTs: ${describeProfile(oneTenantProfile)}`,
      ],
    };
  } finally {
    if (removeWrites) {
      const { rowCount } = await owner.query(`delete from app_public.leads where email like $1`, [`bench-%@${DOMAIN}`]);
      ctx.log(`  removed the ${rowCount} leads this figure created`);
    }
    await Promise.all([pool.end(), owner.end()]);
  }
}
