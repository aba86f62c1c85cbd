/**
 * `--citus`: the benchmark's database on a throw-away Citus cluster (a
 * coordinator and two workers of PostgreSQL 15 on this machine,
 * src/db/citus-cluster.ts), laid out the way `npm run db:migrate` lays out a
 * cluster (the migrations, the Citus layout step, functions/, policies/:
 * `rebuildDatabase` with `fresh`, as the Citus test template is built), with
 * the data set of the one-node database generated again: same seed, sizes
 * and anchor day, so the same rows (ids made by the database aside).
 *
 * The nodes start with the one-node server's durability and memory settings
 * (fsync, synchronous_commit and full_page_writes on, shared_buffers 256 MB),
 * not the test nodes' fast ones, so that writes cost the same kind of work.
 */
import { createCitusDatabase, startCitusCluster } from '../../src/db/citus-cluster.ts';
import { generateDataset, type DatasetInfo } from '../generate/dataset.ts';
import { BENCH_DATABASE, rebuildSchema, tuneEmbeddedCluster, type BenchDatabase } from './database.ts';

export const CITUS_NODE_SETTINGS = { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on', shared_buffers: '256MB' };
export const CITUS_WORKERS = 2;

export interface CitusBench {
  /** The coordinator's database; `close` stops and removes the cluster. */
  db: BenchDatabase;
  dataset: DatasetInfo;
  /** Seconds to start the nodes, and to rebuild the schema on them. */
  startSeconds: number;
  schemaSeconds: number;
}

const since = (t0: number) => Math.round((performance.now() - t0) / 100) / 10;

export async function startCitusBench(oneNode: BenchDatabase, dataset: DatasetInfo, log: (line: string) => void): Promise<CitusBench> {
  const t0 = performance.now();
  const cluster = await startCitusCluster({ workers: CITUS_WORKERS, settings: CITUS_NODE_SETTINGS });
  // The nodes are daemons: an interrupted run must not leave them behind.
  const onSignal = (signal: NodeJS.Signals) => {
    cluster.stop();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const stop = async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cluster.stop();
  };
  try {
    const urls = await createCitusDatabase(cluster, BENCH_DATABASE);
    for (const url of cluster.rootUrls) await tuneEmbeddedCluster(url);
    const startSeconds = since(t0);
    log(`  Citus cluster: coordinator on port ${cluster.coordinator.port}, workers on ${cluster.workers.map((w) => w.port).join(', ')} (${startSeconds} s)`);
    const t1 = performance.now();
    await rebuildSchema(urls, { fresh: true });
    const schemaSeconds = since(t1);
    log(`  schema laid out on the cluster in ${schemaSeconds} s; generating the same data set there`);
    const generated = await generateDataset(urls.owner, { seed: dataset.seed, sizes: dataset.sizes, anchor: new Date(dataset.anchor), log });
    return {
      db: { urls, embedded: false, env: oneNode.env, jwtSecret: oneNode.jwtSecret, secretsKey: oneNode.secretsKey, close: stop },
      dataset: generated,
      startSeconds,
      schemaSeconds,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
