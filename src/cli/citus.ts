/**
 * `npm run citus`: a throw-away Citus cluster on this machine (a coordinator
 * and two workers of Debian's PostgreSQL 15, Citus built once from the
 * vendored source), with a `penguinmails` database ready for
 * `DATABASE_URL=… npm run db:migrate` or `npm start`. Prints the URLs and
 * keeps running until Ctrl-C, then removes the cluster.
 *
 *   npm run citus [-- --workers N]
 */
import { createCitusDatabase, startCitusCluster } from '../db/citus-cluster.ts';

if (process.argv.includes('--help')) {
  console.log('Usage: npm run citus [-- --workers N]\nStarts a Citus coordinator and N (default 2) workers on free ports of 127.0.0.1 and a penguinmails database on them; Ctrl-C removes them.');
  process.exit(0);
}
const workersArg = process.argv.indexOf('--workers');
const workers = workersArg > 0 ? Number(process.argv[workersArg + 1]) : 2;

const cluster = await startCitusCluster({ workers });
const stop = () => {
  cluster.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const { owner, root, authenticatorPassword } = await createCitusDatabase(cluster, 'penguinmails');

console.log(`Citus cluster: coordinator on ${cluster.coordinator.port}, workers on ${cluster.workers.map((w) => w.port).join(', ')}
  DATABASE_URL=${owner}
  ROOT_DATABASE_URL=${root}
  AUTHENTICATOR_PASSWORD=${authenticatorPassword}
Ctrl-C stops and removes it.`);
// Nothing else keeps the process alive: a timer does, until Ctrl-C.
setInterval(() => undefined, 1 << 30);
