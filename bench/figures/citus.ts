/**
 * Figure 9 — Citus vs one node (`--citus`): figures 1 (GraphQL read) and 4
 * (createLead) run as they are against the one-node database and against a
 * throw-away Citus cluster on the same machine holding the same data set
 * (bench/lib/citus.ts), each with its own API server child process, one
 * after the other (read on one node, read on the cluster, write on one node,
 * write on the cluster). Each run keeps its own product-vs-anchor
 * comparisons; the figure's own ratios are cluster / one node, for the API
 * and for the same SQL sent straight through `pg`.
 */
import type { BenchContext } from '../lib/context.ts';
import { machineInfo } from '../lib/machine.ts';
import { compare, type Comparison, type FigureResult, type Measurement } from '../lib/report.ts';
import { CITUS_NODE_SETTINGS, CITUS_WORKERS } from '../lib/citus.ts';
import { graphqlRead } from './graphql-read.ts';
import { graphqlWrite } from './graphql-write.ts';

type Run = Omit<FigureResult, 'key' | 'number' | 'title'>;

/** A run's measurements, comparisons, notes, plans and profiles, labelled with where it ran. */
function labelled(where: string, run: Run): Run {
  const key = (k: string) => `${where.replace(/ (.)/g, (_, c: string) => c.toUpperCase())}.${k}`;
  return {
    measurements: run.measurements.map((m) => ({ ...m, label: `${where}: ${m.label}` })),
    comparisons: run.comparisons.map((c) => ({ ...c, label: `${where}: ${c.label}` })),
    notes: run.notes.map((n) => `${where}: ${n}`),
    plans: run.plans && Object.fromEntries(Object.entries(run.plans).map(([k, v]) => [key(k), v])),
    profiles: run.profiles && Object.fromEntries(Object.entries(run.profiles).map(([k, v]) => [key(k), v])),
  };
}

function side(run: Run, which: 'product' | 'anchor'): Measurement {
  const m = run.measurements.find((x) => x.side === which);
  if (!m) throw new Error(`no ${which} measurement in the run`);
  return m;
}

/** Cluster / one node on throughput and median latency, for the API and for its SQL through pg. */
function clusterVsOneNode(what: string, oneNode: Run, cluster: Run): Comparison[] {
  const rate = (_: number, r: number) => `the cluster at ×${r} the one node's rate`;
  const latency = (_: number, r: number) => `×${r} the one node's latency`;
  return [
    compare(`${what} throughput, cluster / one node`, side(cluster, 'product'), side(oneNode, 'product'), 'perSecond', rate),
    compare(`${what} p50 latency, cluster / one node`, side(cluster, 'product'), side(oneNode, 'product'), 'p50', latency),
    compare(`${what} SQL via pg throughput, cluster / one node`, side(cluster, 'anchor'), side(oneNode, 'anchor'), 'perSecond', rate),
  ];
}

export async function citusVsOneNode(ctx: BenchContext): Promise<Run> {
  const { ctx: onCluster, cluster } = await ctx.citus();
  const runs = { read: { oneNode: {} as Run, cluster: {} as Run }, write: { oneNode: {} as Run, cluster: {} as Run } };
  for (const [figure, run] of [['read', graphqlRead], ['write', graphqlWrite]] as const) {
    for (const [where, c] of [['oneNode', ctx], ['cluster', onCluster]] as const) {
      ctx.log(`  — ${figure === 'read' ? 'GraphQL read' : 'createLead'} on ${where === 'oneNode' ? 'one node' : 'the cluster'}`);
      // The cluster is removed after this figure: its leads stay (see the note on deleting them).
      runs[figure][where] = await run(c, { removeWrites: where === 'oneNode' });
    }
  }
  const coordinator = await machineInfo(onCluster.db.urls.owner);
  const oneNode = await machineInfo(ctx.db.urls.owner);
  const settings = (s: Record<string, string>) =>
    ['shared_buffers', 'fsync', 'synchronous_commit', 'max_connections'].map((k) => `${k} ${s[k]}`).join(', ');
  const { sizes, seed, anchor } = ctx.dataset;
  const load = (s: number) => `${Math.round(s)} s`;
  const parts = [
    labelled('one node', runs.read.oneNode), labelled('cluster', runs.read.cluster),
    labelled('one node', runs.write.oneNode), labelled('cluster', runs.write.cluster),
  ];
  return {
    measurements: [
      ...parts.flatMap((p) => p.measurements),
      { label: 'data set load: one node', side: 'info', value: Math.round(ctx.dataset.loadSeconds * 10) / 10, unit: 's' },
      { label: 'data set load: cluster', side: 'info', value: Math.round(cluster.dataset.loadSeconds * 10) / 10, unit: 's' },
      { label: 'cluster start (3 nodes, database, roles)', side: 'info', value: cluster.startSeconds, unit: 's' },
      { label: 'schema laid out on the cluster', side: 'info', value: cluster.schemaSeconds, unit: 's' },
    ],
    comparisons: [
      ...clusterVsOneNode('GraphQL read', runs.read.oneNode, runs.read.cluster),
      ...clusterVsOneNode('createLead', runs.write.oneNode, runs.write.cluster),
      ...parts.flatMap((p) => p.comparisons),
    ],
    notes: [
      `The same data set on both: seed ${seed}, ${sizes.tenants.toLocaleString('en-US')} tenants, ${sizes.leads.toLocaleString('en-US')} leads, ` +
        `~${sizes.messages.toLocaleString('en-US')} messages (--scale ${ctx.options.scale}${ctx.options.skipGenerate ? ', the one-node data set reused' : ''}), anchor day ${anchor.slice(0, 10)}; ` +
        `generated on one node in ${load(ctx.dataset.loadSeconds)}, on the cluster in ${load(cluster.dataset.loadSeconds)}. The largest tenant (the one both figures act as) has ` +
        `${ctx.dataset.subjects.tenantLeads.toLocaleString('en-US')} leads on each.`,
      `One node: ${oneNode.postgres.split(' on ')[0]} (${ctx.db.embedded ? 'the embedded server' : 'DATABASE_URL'}; ${settings(oneNode.postgresSettings)}).`,
      `Cluster: a coordinator and ${CITUS_WORKERS} workers on this machine (127.0.0.1), ${coordinator.postgres.split(' on ')[0]} with Citus, ` +
        `every tenant table distributed by tenant_id (src/db/citus-distribution.ts), citus.shard_count 8; each node started with ` +
        `${Object.entries(CITUS_NODE_SETTINGS).map(([k, v]) => `${k} ${v}`).join(', ')} (coordinator: ${settings(coordinator.postgresSettings)}).`,
      'The API server and the benchmark reach the cluster through the coordinator only, as an application would. "PostgreSQL" CPU in the cluster rows is the coordinator\'s alone (the workers are other postmasters); the machine\'s 2 cores are shared by the three nodes, the API and the load generator.',
      'The leads createLead wrote on the cluster are not deleted (the cluster is removed afterwards): deleting a tenant\'s leads fails there, in the ' +
        'contacts gauge\'s statement-level trigger (most likely app_private.gauge_change, functions/250-billing-gauges.sql: its decrement is an UPDATE whose ' +
        'WHERE compares with a subquery, not routable from inside a shard: "cannot execute a distributed query from a query on a shard"), and a ' +
        'DELETE across tenants crashed the worker nodes (Citus 13.2.2, segmentation fault in COMMIT PREPARED).',
      'Runs are sequential: read on one node, read on the cluster, createLead on one node, createLead on the cluster; both API servers stay up throughout (the idle one costs nothing).',
      ...parts.flatMap((p) => p.notes),
    ],
    plans: Object.assign({}, ...parts.map((p) => p.plans ?? {})),
    profiles: Object.assign({}, ...parts.map((p) => p.profiles ?? {})),
  };
}
