/**
 * One entry point to "a database for PenguinMails": the embedded cluster by
 * default, or the server named by DATABASE_URL. Resolves every connection
 * string the project needs and bootstraps roles and databases when a
 * superuser connection (ROOT_DATABASE_URL, or the embedded cluster's) exists.
 */
import { createPool, sql } from './pg.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Env } from '../config.ts';
import { loadDevSecrets } from '../dev-secrets.ts';
import { startEmbeddedPostgres, type EmbeddedCluster } from './embedded.ts';

export const AUTHENTICATOR_ROLE = 'penguinmails_authenticator';

export interface DatabaseUrls {
  /** Superuser connection to the maintenance database, when we have one. */
  root?: string;
  /** The owner: migrations, worker. */
  owner: string;
  /** The API's login role, which switches to the per-request role. */
  authenticator: string;
  shadow?: string;
  databaseName: string;
  ownerRole: string;
  authenticatorPassword: string;
}

export interface Database {
  urls: DatabaseUrls;
  embedded: boolean;
  /** The embedded cluster (absent with DATABASE_URL). */
  cluster?: EmbeddedCluster;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Database name (embedded only; with DATABASE_URL the URL decides). */
  databaseName?: string;
  withShadow?: boolean;
  /** Throw-away cluster with its own folder and port (tests). */
  ephemeral?: { dataDir: string; port: number };
  /** Database-level settings to apply, e.g. a cheaper bcrypt cost in tests. */
  databaseSettings?: Record<string, string>;
}

/** The same server URL, naming another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function withCredentials(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
}

function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

export async function openDatabase(env: Env, options: OpenOptions = {}): Promise<Database> {
  const dev = loadDevSecrets(env.PM_DATA_DIR);
  const authenticatorPassword = env.AUTHENTICATOR_PASSWORD ?? dev.authenticatorPassword;

  if (env.DATABASE_URL) {
    const owner = env.DATABASE_URL;
    const databaseName = databaseOf(owner);
    const urls: DatabaseUrls = {
      root: env.ROOT_DATABASE_URL,
      owner,
      authenticator: env.AUTH_DATABASE_URL ?? withCredentials(owner, AUTHENTICATOR_ROLE, authenticatorPassword),
      shadow: env.SHADOW_DATABASE_URL ?? (options.withShadow ? withDatabase(owner, `${databaseName}_shadow`) : undefined),
      databaseName,
      ownerRole: decodeURIComponent(new URL(owner).username),
      authenticatorPassword: env.AUTH_DATABASE_URL
        ? decodeURIComponent(new URL(env.AUTH_DATABASE_URL).password)
        : authenticatorPassword,
    };
    if (urls.root) await bootstrap(urls, options);
    return { urls, embedded: false, close: async () => undefined };
  }

  const cluster = await startEmbeddedPostgres({
    dataDir: options.ephemeral?.dataDir ?? path.join(env.PM_DATA_DIR, 'postgres'),
    port: options.ephemeral?.port ?? env.PM_EMBEDDED_PG_PORT,
    superuserPassword: dev.superuserPassword,
    ephemeral: Boolean(options.ephemeral),
    fast: Boolean(options.ephemeral),
  });
  const databaseName = options.databaseName ?? 'penguinmails';
  const base = `postgres://127.0.0.1:${cluster.port}/${databaseName}`;
  const urls: DatabaseUrls = {
    root: cluster.superuserUrl(),
    owner: withCredentials(base, 'penguinmails_owner', dev.ownerPassword),
    authenticator: withCredentials(base, AUTHENTICATOR_ROLE, authenticatorPassword),
    shadow: options.withShadow
      ? withCredentials(withDatabase(base, `${databaseName}_shadow`), 'penguinmails_owner', dev.ownerPassword)
      : undefined,
    databaseName,
    ownerRole: 'penguinmails_owner',
    authenticatorPassword,
  };
  try {
    await bootstrap(urls, options);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return { urls, embedded: true, cluster, close: () => cluster.stop() };
}

/** The cluster-level set-up graphile-migrate does not do: roles and databases. */
async function bootstrap(urls: DatabaseUrls, options: OpenOptions): Promise<void> {
  const root = createPool({ connectionString: urls.root!, poolSize: 1, bigIntMode: 'string' });
  try {
    const ownerPassword = decodeURIComponent(new URL(urls.owner).password);
    const [owner] = await root.query(sql`select rolsuper from pg_roles where rolname = ${urls.ownerRole}`);
    if (!owner) {
      await root.query(sql`create role ${sql.ident(urls.ownerRole)} with login`);
    }
    if (!owner?.rolsuper) {
      // BYPASSRLS: the owner runs migrations, the worker and privileged
      // SECURITY DEFINER functions across tenants. No API request ever runs as it.
      await root.query(
        sql`alter role ${sql.ident(urls.ownerRole)} with login bypassrls password ${sql.__dangerous__rawValue(
          quoteLiteral(ownerPassword),
        )}`,
      );
    }
    const databases = [urls.databaseName, ...(urls.shadow ? [databaseOf(urls.shadow)] : [])];
    for (const name of databases) {
      const [exists] = await root.query(sql`select 1 from pg_database where datname = ${name}`);
      if (!exists) await root.query(sql`create database ${sql.ident(name)} owner ${sql.ident(urls.ownerRole)}`);
    }
    await runRolesScript(urls, databases, options.databaseSettings ?? {});
  } finally {
    await root.dispose();
  }
}

/** Runs migrations/afterReset.sql (roles, CONNECT) with graphile-migrate's placeholders. */
export async function runRolesScript(
  urls: DatabaseUrls,
  databases: string[],
  databaseSettings: Record<string, string> = {},
): Promise<void> {
  const template = readFileSync(path.join(process.cwd(), 'migrations', 'afterReset.sql'), 'utf8');
  for (const name of databases) {
    const db = createPool({ connectionString: withDatabase(urls.root!, name), poolSize: 1, bigIntMode: 'string' });
    try {
      const text = template
        .replaceAll(':DATABASE_AUTHENTICATOR_PASSWORD', urls.authenticatorPassword.replaceAll("'", "''"))
        .replaceAll(':DATABASE_OWNER', quoteIdent(urls.ownerRole))
        .replaceAll(':DATABASE_NAME', quoteIdent(name));
      await db.query(sql.__dangerous__rawValue(text));
      for (const [key, value] of Object.entries(databaseSettings)) {
        await db.query(sql`alter database ${sql.ident(name)} set ${sql.ident(key)} = ${sql.__dangerous__rawValue(quoteLiteral(value))}`);
      }
    } finally {
      await db.dispose();
    }
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
