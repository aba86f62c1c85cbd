/**
 * Database test helpers in the style of graphile/starter: every test runs in a
 * transaction that is rolled back at the end, on a superuser connection that
 * switches (SET ROLE, like PostGraphile does per request) to the persona under
 * test: anonymous, a member of a tenant, staff, analytics, or the owner.
 */
import type { DatabaseUrls } from '../../src/db/database.ts';
import { createPool, sql, type ConnectionPool, type SQLQuery, type Transaction } from '../../src/db/pg.ts';
import { withDatabase } from './test-database.ts';

/** The URLs of the test cluster, as set by the global set-up. */
export function baseTestUrls(): DatabaseUrls {
  const json = process.env.PM_TEST_URLS;
  if (!json) throw new Error('PM_TEST_URLS is not set: run the tests through jest (global set-up).');
  return JSON.parse(json) as DatabaseUrls;
}



let rootPool: ConnectionPool | undefined;

export function rootDb(): ConnectionPool {
  rootPool ??= createPool({
    connectionString: withDatabase(baseTestUrls().root!, 'penguinmails_test'),
    bigIntMode: 'string',
    poolSize: 4,
  });
  return rootPool!;
}

export async function closeDb(): Promise<void> {
  await rootPool?.dispose();
  rootPool = undefined;
}

export type Persona =
  | { kind: 'root' }
  | { kind: 'owner' }
  | { kind: 'anonymous' }
  | { kind: 'analytics' }
  | { kind: 'member'; userId: string; tenantId?: string }
  | { kind: 'staff'; userId: string; tenantId?: string };

const ROLE: Record<Persona['kind'], string | null> = {
  root: null,
  owner: 'penguinmails_owner',
  anonymous: 'penguinmails_anonymous',
  analytics: 'penguinmails_analytics',
  member: 'penguinmails_member',
  staff: 'penguinmails_staff',
};

class Rollback extends Error {}

export type DbError = Error & { code?: string; constraint?: string; detail?: string; column?: string };

export interface User {
  id: string;
  email: string;
}
export interface Tenant {
  id: string;
  name: string;
}

/** A rolled-back transaction with persona switching and fixture builders. */
export class TestTx {
  readonly tx: Transaction;
  constructor(tx: Transaction) {
    this.tx = tx;
  }

  query(q: SQLQuery): Promise<any[]> {
    return this.tx.query(q);
  }

  async one(q: SQLQuery): Promise<any> {
    const rows = await this.tx.query(q);
    if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
    return rows[0];
  }

  /** Switches the rest of the transaction to a persona. */
  async as(persona: Persona): Promise<void> {
    const role = ROLE[persona.kind];
    const userId = 'userId' in persona ? persona.userId : '';
    const tenantId = 'tenantId' in persona ? (persona.tenantId ?? '') : '';
    await this.tx.query(sql`reset role`);
    // As an API request starts (src/server/context.ts, requestEntry): the
    // role, then the user and tenant entered (their roles resolved once;
    // staff powers only for the staff role). The analytics and owner roles
    // are not API roles: they are entered first, then switched to.
    const apiRole = persona.kind === 'member' || persona.kind === 'staff' || persona.kind === 'anonymous';
    if (role && apiRole) await this.tx.query(sql`select set_config('role', ${role}, true)`);
    await this.tx.query(sql`select app_hidden.enter_request(${userId || null}::uuid, ${tenantId || null}::uuid)`);
    if (role && !apiRole) await this.tx.query(sql`select set_config('role', ${role}, true)`);
  }

  /** Runs fn as a persona, then returns to the superuser. */
  async asPersona<T>(persona: Persona, fn: () => Promise<T>): Promise<T> {
    await this.as(persona);
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      // The transaction may be aborted: report what failed, not the restore.
      await this.as({ kind: 'root' }).catch(() => undefined);
      throw error;
    }
    await this.as({ kind: 'root' });
    return result;
  }

  /**
   * Runs a statement inside a savepoint, so the transaction stays usable
   * whatever happens; returns the database error (null if it succeeded) and the rows.
   */
  async attempt(q: SQLQuery): Promise<{ error: DbError | null; rows: any[] }> {
    await this.tx.query(sql`savepoint attempt`);
    try {
      const rows = await this.tx.query(q);
      await this.tx.query(sql`release savepoint attempt`);
      return { error: null, rows };
    } catch (e) {
      await this.tx.query(sql`rollback to savepoint attempt`);
      return { error: e as DbError, rows: [] };
    }
  }

  /** Runs a statement that must fail; returns the database error. */
  async error(q: SQLQuery): Promise<DbError> {
    const { error: e } = await this.attempt(q);
    if (!e) throw new Error('expected the statement to fail, but it succeeded');
    return e;
  }

  // --- fixtures (created as the superuser, whatever the current persona) ---

  async createUser(email: string, password = 'correct horse battery', name?: string): Promise<User> {
    return this.asPersona({ kind: 'root' }, () =>
      this.one(sql`select id, email::text from app_private.create_user(${email}, ${password}, ${name ?? null}, true)`),
    );
  }

  async createTenant(name: string, ownerId: string, plan = 'pro'): Promise<Tenant> {
    return this.asPersona({ kind: 'root' }, () =>
      this.one(sql`select id, name from app_private.create_tenant(${name}, ${ownerId}, ${plan})`),
    );
  }

  /** Adds a member with the given roles. */
  async addMember(tenantId: string, userId: string, roles: string[]): Promise<void> {
    await this.asPersona({ kind: 'root' }, () =>
      this.query(sql`
        insert into app_public.tenant_users (tenant_id, user_id, roles, email)
        select ${tenantId}, u.id, ${roles}, u.email from app_public.users u where u.id = ${userId}
      `),
    );
  }

  /** A tenant with an owner, ready to use. */
  async tenantWithOwner(label: string): Promise<{ tenant: Tenant; owner: User }> {
    const owner = await this.createUser(`owner-${label}-${randomSuffix()}@example.com`, undefined, `Owner ${label}`);
    const tenant = await this.createTenant(`Tenant ${label}`, owner.id);
    return { tenant, owner };
  }

  /** Makes a user platform staff with the named staff role. */
  async makeStaff(userId: string, roleName: string): Promise<void> {
    await this.asPersona({ kind: 'root' }, () =>
      this.query(sql`
        insert into app_public.staff_members (user_id, role_id)
        select ${userId}, id from app_public.staff_roles where name = ${roleName}
      `),
    );
  }
}

export function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 10);
}

/** Runs fn in a transaction that is always rolled back (on the shared test database unless another pool is given). */
export async function withTx<T>(fn: (t: TestTx) => Promise<T>, pool: ConnectionPool = rootDb()): Promise<T> {
  let result: T | undefined;
  try {
    await pool.tx(async (tx) => {
      result = await fn(new TestTx(tx));
      throw new Rollback();
    });
  } catch (e) {
    if (!(e instanceof Rollback)) throw e;
  }
  return result as T;
}
