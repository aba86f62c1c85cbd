/**
 * `npm run citus`: a throw-away Citus cluster on this machine (a coordinator
 * and two workers of Debian's PostgreSQL 15, Citus built once from the
 * vendored source), with a `penguinmails` database ready for
 * `DATABASE_URL=… npm run db:migrate` or `npm start`. Prints the URLs and
 * keeps running until Ctrl-C, then removes the cluster.
 *
 *   npm run citus [-- --workers N]
 */
import { randomBytes } from 'node:crypto';
import { ensureOwnerOnNodes, enableApiRoleLogins, prepareCitusDatabase, registerCitusRolePasswords, citusRolePasswords, startCitusCluster } from '../db/citus-cluster.ts';
import { runRolesScript, withDatabase } from '../db/database.ts';

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

const database = 'penguinmails';
const ownerPassword = randomBytes(12).toString('hex');
const authenticatorPassword = randomBytes(12).toString('hex');
await ensureOwnerOnNodes(cluster.rootUrls, 'penguinmails_owner', ownerPassword);
await prepareCitusDatabase(cluster.rootUrls, database, 'penguinmails_owner');
const db = (url: string) => withDatabase(url, database);
const root = cluster.coordinator.superuserUrl();
const owner = Object.assign(new URL(db(root)), { username: 'penguinmails_owner', password: ownerPassword }).toString();
await runRolesScript({ root, owner, authenticator: owner, databaseName: database, ownerRole: 'penguinmails_owner', authenticatorPassword }, [database]);
await enableApiRoleLogins(db(root), authenticatorPassword);
await registerCitusRolePasswords(cluster.rootUrls.map(db), citusRolePasswords('penguinmails_owner', ownerPassword, authenticatorPassword));

console.log(`Citus cluster: coordinator on ${cluster.coordinator.port}, workers on ${cluster.workers.map((w) => w.port).join(', ')}
  DATABASE_URL=${owner}
  ROOT_DATABASE_URL=${root}
  AUTHENTICATOR_PASSWORD=${authenticatorPassword}
Ctrl-C stops and removes it.`);
// Nothing else keeps the process alive: a timer does, until Ctrl-C.
setInterval(() => undefined, 1 << 30);
