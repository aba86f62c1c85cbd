/**
 * A Citus cluster on this machine: a coordinator and N workers, each a
 * throw-away PostgreSQL 15 node on a free port of 127.0.0.1 with Citus
 * preloaded (scripts/build-citus.sh builds and installs the extension from the
 * vendored source release). `npm run citus` keeps one running for manual use;
 * `npm run test:citus` runs the test suite on one.
 *
 * A database on a Citus cluster exists on every node with the citus extension,
 * and its coordinator knows the workers (`prepareCitusDatabase`). Citus opens
 * its own connections to the workers as the current role: roles and their
 * passwords for those connections live in pg_dist_authinfo (see
 * `registerCitusRolePasswords`).
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { CITUS_DATABASE_SETTINGS } from './citus-distribution.ts';
import { AUTHENTICATOR_ROLE, quoteIdent, quoteLiteral, runRolesScript, withDatabase, type DatabaseUrls } from './database.ts';
import { freePorts } from './embedded.ts';
import { PG15_BIN, startSystemNode, type SystemNode } from './system-postgres.ts';

export interface CitusCluster {
  coordinator: SystemNode;
  workers: SystemNode[];
  /** Superuser URLs of every node's maintenance database, coordinator first. */
  rootUrls: string[];
  stop(): void;
}

/** Builds and installs Citus when missing (a cached build re-installs in seconds). */
export function ensureCitusInstalled(): void {
  if (existsSync(path.join(PG15_BIN, '..', 'lib', 'citus.so'))) return;
  const script = path.join(process.cwd(), 'scripts', 'build-citus.sh');
  const r = spawnSync('bash', [script], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${script} failed with ${r.status}`);
}

/**
 * `settings` are added to (and override) every node's server settings, e.g.
 * the durability settings a throw-away node turns off (src/db/system-postgres.ts).
 */
export async function startCitusCluster(
  { workers = 2, dir, settings: extra = {} }: { workers?: number; dir?: string; settings?: Record<string, string> } = {},
): Promise<CitusCluster> {
  ensureCitusInstalled();
  const base = dir ?? path.join(os.tmpdir(), `penguinmails-citus-${process.pid}`);
  const password = randomBytes(12).toString('hex');
  const settings = {
    shared_preload_libraries: 'citus',
    // What distributeForCitus sets on the database it distributes, for every
    // database of the cluster (test databases are copies, which do not
    // inherit database-level settings).
    ...CITUS_DATABASE_SETTINGS,
    'citus.shard_count': '8',
    max_prepared_transactions: '200',
    ...extra,
  };
  const nodes: SystemNode[] = [];
  try {
    const ports = await freePorts(workers + 1);
    for (const [i, port] of ports.entries()) {
      nodes.push(startSystemNode({ dir: path.join(base, i === 0 ? 'coordinator' : `worker${i}`), port, superuserPassword: password, settings }));
    }
  } catch (error) {
    for (const node of nodes) node.stop();
    throw error;
  }
  const [coordinator, ...workerNodes] = nodes as [SystemNode, ...SystemNode[]];
  return {
    coordinator,
    workers: workerNodes,
    rootUrls: nodes.map((n) => n.superuserUrl()),
    stop() {
      for (const node of [...workerNodes, coordinator]) node.stop();
    },
  };
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}


/**
 * Creates `name` on every node (unless it exists) with the citus extension,
 * and registers the workers with the coordinator's copy. `rootUrls` are the
 * superuser URLs of the nodes, coordinator first.
 */
export async function prepareCitusDatabase(rootUrls: string[], name: string, owner: string): Promise<void> {
  await createDatabaseOnNodes(rootUrls, name, owner);
  for (const url of rootUrls) {
    await withClient(withDatabase(url, name), (c) => c.query('create extension if not exists citus'));
  }
  const [coordinatorUrl, ...workerUrls] = rootUrls as [string, ...string[]];
  const superuser = new URL(coordinatorUrl);
  await registerCitusRolePasswords(rootUrls.map((url) => withDatabase(url, name)), {
    [decodeURIComponent(superuser.username)]: decodeURIComponent(superuser.password),
  });
  await withClient(withDatabase(coordinatorUrl, name), async (c) => {
    const coordinator = new URL(coordinatorUrl);
    await c.query('select citus_set_coordinator_host($1, $2)', [coordinator.hostname, Number(coordinator.port)]);
    for (const url of workerUrls) {
      const u = new URL(url);
      const { rowCount } = await c.query('select 1 from pg_dist_node where nodename = $1 and nodeport = $2', [u.hostname, Number(u.port)]);
      if (!rowCount) await c.query('select citus_add_node($1, $2)', [u.hostname, Number(u.port)]);
    }
  });
}

/**
 * A database on a cluster we started, ready for the migrations
 * (`rebuildDatabase(urls, { fresh: true })` or `npm run db:migrate`): the
 * owner on every node, the database with the extension on every node, the
 * workers registered, the roles script run on the coordinator (Citus creates
 * the roles on the workers), the API roles allowed to log in and every
 * password in pg_dist_authinfo. `npm run citus` and `npm run bench -- --citus`.
 */
export async function createCitusDatabase(
  cluster: CitusCluster,
  database: string,
  { ownerRole = 'penguinmails_owner', ownerPassword = randomBytes(12).toString('hex'), authenticatorPassword = randomBytes(12).toString('hex') } = {},
): Promise<DatabaseUrls> {
  await ensureOwnerOnNodes(cluster.rootUrls, ownerRole, ownerPassword);
  await prepareCitusDatabase(cluster.rootUrls, database, ownerRole);
  const root = cluster.coordinator.superuserUrl();
  const login = (user: string, password: string) => Object.assign(new URL(withDatabase(root, database)), { username: user, password }).toString();
  const urls: DatabaseUrls = {
    root,
    owner: login(ownerRole, ownerPassword),
    authenticator: login(AUTHENTICATOR_ROLE, authenticatorPassword),
    databaseName: database,
    ownerRole,
    authenticatorPassword,
  };
  await runRolesScript(urls, [database]);
  await enableApiRoleLogins(withDatabase(root, database), authenticatorPassword);
  await registerCitusRolePasswords(cluster.rootUrls.map((url) => withDatabase(url, database)), citusRolePasswords(ownerRole, ownerPassword, authenticatorPassword));
  return urls;
}

/** Creates the database on each node where it does not exist yet. */
export async function createDatabaseOnNodes(rootUrls: string[], name: string, owner: string): Promise<void> {
  for (const url of rootUrls) {
    await withClient(url, async (c) => {
      const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [name]);
      if (!rowCount) await c.query(`create database ${quoteIdent(name)} owner ${quoteIdent(owner)}`);
    });
  }
}

/**
 * Citus connects to other nodes as the role running the query, so every role
 * that runs queries (the owner, the API roles, the superuser) needs its
 * password in pg_dist_authinfo (node 0: every node). Workers connect too (a
 * worker routes the statements of a trigger or of a delegated function), and
 * Citus does not copy the table: it is written on every node's copy of the
 * database. `nodeDbUrls`: superuser URLs of the database on each node.
 */
export async function registerCitusRolePasswords(nodeDbUrls: string[], passwords: Record<string, string>): Promise<void> {
  for (const url of nodeDbUrls) {
    await withClient(url, async (c) => {
      for (const [role, password] of Object.entries(passwords)) {
        const authinfo = `password=${password}`;
        await c.query(`delete from pg_dist_authinfo where nodeid = 0 and rolename = ${quoteLiteral(role)}`);
        await c.query(`insert into pg_dist_authinfo (nodeid, rolename, authinfo) values (0, ${quoteLiteral(role)}, ${quoteLiteral(authinfo)})`);
      }
    });
  }
}

/**
 * Roles on a Citus cluster. Roles are cluster-wide on each node; Citus copies
 * them to the workers when they are created, altered or granted from a
 * database with the extension, by a superuser (roles that existed before
 * are not copied). The owner must exist on every node before its database
 * does (`ensureOwnerOnNodes`); the other roles come from running the roles
 * script in the coordinator's database once the workers are registered. Citus connects to the workers as the role a
 * request runs as, so the API roles are LOGIN roles on a cluster
 * (`enableApiRoleLogins`), with the authenticator's password: the
 * authenticator may become any of them anyway. Every password goes into
 * pg_dist_authinfo (`registerCitusRolePasswords`).
 */
export const API_ROLES = ['penguinmails_anonymous', 'penguinmails_member', 'penguinmails_staff', 'penguinmails_analytics'];

export async function ensureOwnerOnNodes(rootUrls: string[], ownerRole: string, ownerPassword: string): Promise<void> {
  for (const url of rootUrls) {
    await withClient(url, async (c) => {
      const { rowCount } = await c.query('select 1 from pg_roles where rolname = $1', [ownerRole]);
      if (!rowCount) await c.query(`create role ${quoteIdent(ownerRole)} login`);
      await c.query(`alter role ${quoteIdent(ownerRole)} with login bypassrls password ${quoteLiteral(ownerPassword)}`);
    });
  }
}

/**
 * Run as a superuser in the coordinator's database (Citus copies the change to the workers).
 *
 * A write to a reference table makes Citus lock, on the first worker, the
 * reference tables it has foreign keys to, and Citus allows that lock only to
 * a role that may write those tables too. Staff add staff members (whose role
 * is a row of `staff_roles`, read-only to them) and IPs (on a server of
 * `vps_instances`), so for the staff role that check is off
 * (`citus.skip_advisory_lock_permission_checks`, a superuser setting). It
 * skips only the permission check on Citus's internal locks; what staff may
 * write is still their grants and policies.
 */
export async function enableApiRoleLogins(coordinatorDbUrl: string, authenticatorPassword: string): Promise<void> {
  await withClient(coordinatorDbUrl, async (c) => {
    for (const role of API_ROLES) await c.query(`alter role ${quoteIdent(role)} with login password ${quoteLiteral(authenticatorPassword)}`);
    await c.query('alter role penguinmails_staff set citus.skip_advisory_lock_permission_checks = on');
  });
}

/**
 * Roles are cluster-wide, but Citus records per database which roles it has
 * already created on the workers (pg_dist_object). In a second database of a
 * cluster (the test template, rebuilt on every run) the roles exist on every
 * node but are not recorded, so the first GRANT to one makes Citus re-create
 * it on the workers as the role running the GRANT, which only a superuser may
 * do. Recording them here, as a superuser on every node's copy, avoids that.
 */
export async function recordRolesAsDistributed(nodeDbUrls: string[], roles: string[]): Promise<void> {
  for (const url of nodeDbUrls) {
    await withClient(url, (c) =>
      c.query(
        `insert into pg_catalog.pg_dist_object (classid, objid, objsubid)
         select 'pg_catalog.pg_authid'::regclass, r.oid, 0 from pg_catalog.pg_roles r
         where r.rolname = any($1::text[])
           and not exists (select 1 from pg_catalog.pg_dist_object o where o.classid = 'pg_catalog.pg_authid'::regclass and o.objid = r.oid)`,
        [roles],
      ),
    );
  }
}

export function citusRolePasswords(ownerRole: string, ownerPassword: string, authenticatorPassword: string): Record<string, string> {
  return {
    [ownerRole]: ownerPassword,
    penguinmails_authenticator: authenticatorPassword,
    ...Object.fromEntries(API_ROLES.map((role) => [role, authenticatorPassword])),
  };
}

/** `create database name template source` on every node (a Citus database is a copy on each). */
export async function cloneCitusDatabase(rootUrls: string[], source: string, name: string, owner: string): Promise<void> {
  // Each node copies its own template, all at once.
  await Promise.all(
    rootUrls.map((url) =>
      withClient(url, async (c) => {
        await c.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [source]);
        await c.query(`drop database if exists ${quoteIdent(name)} with (force)`);
        await c.query(`create database ${quoteIdent(name)} template ${quoteIdent(source)} owner ${quoteIdent(owner)}`);
      }),
    ),
  );
}

export async function dropCitusDatabase(rootUrls: string[], name: string): Promise<void> {
  for (const url of rootUrls) await withClient(url, (c) => c.query(`drop database if exists ${quoteIdent(name)} with (force)`));
}

/** A template nobody may connect to (Citus' maintenance daemon would, and block copies). */
export async function closeCitusTemplate(rootUrls: string[], name: string): Promise<void> {
  for (const url of rootUrls) {
    await withClient(url, async (c) => {
      await c.query(`alter database ${quoteIdent(name)} with allow_connections false`);
      await c.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [name]);
    });
  }
}
