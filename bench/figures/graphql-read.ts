/**
 * Figure 1 — GraphQL read: the largest tenant lists 20 leads with a filter
 * and an order, from `concurrency` clients (autocannon) against the API in
 * its own process; anchor: the very statements PostGraphile sent for that
 * request (captured from the server), replayed straight through `pg` with
 * the same transaction, settings and prepared statement, from as many
 * clients over a pool of the API's size. The ratio is the API's overhead.
 */
import type { BenchContext } from '../lib/context.ts';
import { graphql, loadTest } from '../lib/http-load.ts';
import { compare, type FigureResult, type Measurement } from '../lib/report.ts';
import { apiLikePool, explainAnalyze, runStatements, type Statement } from '../lib/sql.ts';
import { closedLoop } from '../lib/stats.ts';
import { cpuMeasurements, describeSplit, perOp, watchCpu } from '../lib/cpu.ts';
import { captureStatements, mainStatement } from '../lib/capture.ts';

export const LEADS_PAGE = {
  query: `query LeadsPage($status: LeadStatus!) {
  leads(first: 20, filter: { status: { equalTo: $status } }, orderBy: [CREATED_DESC]) {
    nodes { rowId email firstName lastName company title status created customFields }
  }
}`,
  variables: { status: 'ACTIVE' },
};

export async function graphqlRead(ctx: BenchContext): Promise<Omit<FigureResult, 'key' | 'number' | 'title'>> {
  const api = await ctx.api();
  const { durationSec, warmupSec, concurrency } = ctx.options;

  // The expected answer (every measured response must equal it) and the SQL behind it.
  const { statements, text: expected } = await captureStatements(api, ctx.token, LEADS_PAGE);
  const rows = (JSON.parse(expected) as { data: { leads: { nodes: unknown[] } } }).data.leads.nodes.length;
  if (rows !== 20) throw new Error(`The leads page returned ${rows} rows, expected 20: is the data set loaded?`);

  const pool = apiLikePool(ctx.db.urls.authenticator);
  try {
    ctx.log(`  API: ${concurrency} connections × ${durationSec} s`);
    const apiLoad = { url: api.url, token: ctx.token, connections: concurrency, request: LEADS_PAGE, verify: (body: string) => body === expected };
    await loadTest({ ...apiLoad, durationSec: warmupSec, warmupSec: 0 });
    const apiCpu = await watchCpu(pool, api);
    const apiRun = await loadTest({ ...apiLoad, durationSec, warmupSec: 0 });
    const apiSplit = apiCpu();

    const replay = () => runStatements(pool, statements).then(() => undefined);
    ctx.log(`  anchor: the same ${statements.length} statements through pg, ${concurrency} clients × ${durationSec} s`);
    await closedLoop({ concurrency, durationMs: warmupSec * 1000, op: replay });
    const anchorCpu = await watchCpu(pool, api);
    const anchorRun = await closedLoop({ concurrency, durationMs: durationSec * 1000, op: replay });
    const anchorSplit = anchorCpu();
    const plan = await explainAnalyze(pool, ctx.memberSettings, mainStatement(statements));

    const product: Measurement = { label: `API leads(first: 20, filter, orderBy) ×${concurrency}`, side: 'product', summary: apiRun };
    const anchor: Measurement = { label: `same SQL via pg ×${concurrency}`, side: 'anchor', summary: anchorRun };
    return {
      measurements: [
        product, anchor,
        ...cpuMeasurements(apiSplit, apiRun.count, { server: 'API process', per: 'API request', benchmark: 'autocannon (benchmark process)' }),
        ...cpuMeasurements(anchorSplit, anchorRun.count, { per: 'SQL request', benchmark: 'pg client (benchmark process)' }),
      ],
      comparisons: [
        compare('GraphQL read throughput', product, anchor, 'perSecond', (x) => `API overhead ×${x}`),
        compare('GraphQL read p50 latency', product, anchor, 'p50', (x) => `×${x} the SQL's latency`),
        compare('GraphQL read p99 latency', product, anchor, 'p99', (x) => `×${x} the SQL's latency`),
      ],
      notes: [
        `The API ran in its own process (pid ${api.pid}); autocannon and the anchor ran in the benchmark process. Both reach PostgreSQL through a pool of 20 connections as the authenticator role.`,
        `CPU during the API run: ${describeSplit(apiSplit, 'the run', 'API process')} During the anchor: PostgreSQL ${perOp(anchorSplit.database, anchorRun.count)} ms per request. The machine's cores are shared by the API, PostgreSQL and the load generator.`,
        `Statement PostGraphile generated (${Math.round(plan.executionMs * 1000) / 1000} ms to execute): see plans.leadsPage.`,
      ],
      plans: { leadsPage: plan },
    };
  } finally {
    await pool.end();
  }
}

export type { Statement };
