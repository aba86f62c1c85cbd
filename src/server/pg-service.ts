/**
 * PostGraphile's pg service, with our start of a request's transaction: one
 * statement applies `pgSettings` with set_config(…, true) (role, statement
 * timeout) and enters the request as its user and tenant with
 * app_hidden.enter_session (or enter_request, enter_api_key), whose SET LOCAL
 * settings also reach Citus worker nodes (set_config's do not). See
 * requestStart in ./context.ts.
 *
 * @dataplan/pg would send `begin`, its own set_config statement and then
 * ours; here the transaction is begun and the request entered in two
 * statements, and @dataplan/pg runs the request's queries in that
 * transaction (makeWithPgClientViaPgClientAlreadyInTransaction: its nested
 * transactions become savepoints). Requests without settings go through
 * @dataplan/pg as they are.
 */
import type pg from 'pg';
import { makePgService, makeWithPgClientViaPgClientAlreadyInTransaction } from 'postgraphile/adaptors/pg';
import { requestStart, type PgSettings } from './context.ts';

type WithPgClient = ((settings: PgSettings | null | undefined, callback: (client: never) => Promise<unknown>) => Promise<unknown>) & {
  release?: () => void | PromiseLike<void>;
};

/**
 * What every API connection sets once, before its first request:
 * - no JIT optimisation, as @dataplan/pg does on every connection it uses
 *   (its comment: 50 ms queries took 8 s with it);
 * - a plan made for each execution's own values. @dataplan/pg sends every
 *   query as a named prepared statement, and after five executions
 *   PostgreSQL may switch to a generic plan, costed for an average tenant.
 *   Tenants differ by orders of magnitude, so the largest ones got plans made
 *   for the smallest: counting a campaign's 150,000 messages by status ran an
 *   index scan and a sort sized for 3 rows per partition, ×1.8 the time of
 *   its own plan (docs/performance.md, finding 13).
 */
export const API_CONNECTION_SETTINGS = 'set jit_optimize_above_cost = -1; set plan_cache_mode = force_custom_plan';

/** Clients given API_CONNECTION_SETTINGS. */
const prepared = new WeakSet<pg.PoolClient>();

function enteringRequests(pool: pg.Pool, inner: WithPgClient): WithPgClient {
  const wrapped: WithPgClient = async (settings, callback) => {
    if (!settings || Object.keys(settings).length === 0) return inner(settings, callback);
    const client = await pool.connect();
    let broken = false;
    try {
      if (!prepared.has(client)) {
        await client.query(API_CONNECTION_SETTINGS);
        prepared.add(client);
      }
      await client.query('begin');
      try {
        const start = requestStart(settings);
        await client.query(start.text, start.values);
        const result = await makeWithPgClientViaPgClientAlreadyInTransaction(client as never, true)(null, callback as never);
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch(() => {
          broken = true;
        });
        throw error;
      }
    } finally {
      client.release(broken);
    }
  };
  if (inner.release) wrapped.release = () => inner.release!();
  return wrapped;
}

export function makeRequestPgService(pool: pg.Pool, schemas: string[]): ReturnType<typeof makePgService> {
  const service = makePgService({ pool, schemas });
  const adaptor = service.adaptor as unknown as { createWithPgClient(...args: unknown[]): Promise<WithPgClient> | WithPgClient };
  const create = adaptor.createWithPgClient.bind(adaptor);
  (service as { adaptor: unknown }).adaptor = {
    ...adaptor,
    async createWithPgClient(...args: unknown[]) {
      return enteringRequests(pool, await create(...args));
    },
  };
  return service;
}
