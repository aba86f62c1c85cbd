/**
 * PostGraphile's pg service, with our start of a request's transaction
 * (withUserSession, ./user-session.ts): one statement applies `pgSettings`
 * with set_config(…, true) (role, statement timeout) and enters the request
 * as its user and tenant with app_hidden.enter_session (or enter_request,
 * enter_api_key), whose SET LOCAL settings also reach Citus worker nodes
 * (set_config's do not). See requestStart in ./context.ts.
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
import type { PgSettings } from './context.ts';
import { withUserSession } from './user-session.ts';

type WithPgClient = ((settings: PgSettings | null | undefined, callback: (client: never) => Promise<unknown>) => Promise<unknown>) & {
  release?: () => void | PromiseLike<void>;
};

/**
 * The request's connection as @dataplan/pg sees it: its queries are sent
 * unprepared, each planned for its own values.
 *
 * @dataplan/pg sends every query as a named prepared statement, and after
 * five executions of one PostgreSQL may switch it to a generic plan, costed
 * for an average tenant. Tenants differ by orders of magnitude, so the
 * largest ones got plans made for the smallest: counting a campaign's 150,000
 * messages by status ran an index scan and a sort sized for 3 rows per
 * partition, ×1.6–2 the time of its own plan (docs/performance.md, finding
 * 13). Forcing custom plans for the session instead (plan_cache_mode) also
 * re-plans every statement of our PL/pgSQL functions and triggers on every
 * call: that doubled the database's CPU per createLead. @dataplan/pg's own
 * switch (DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE=0) is read from the
 * environment once, when it is loaded, which an import cannot be relied on to
 * precede. So the name is left out here, where PostGraphile's queries reach
 * the connection; every other property is the connection's own.
 */
export function unprepared(client: pg.PoolClient): pg.PoolClient {
  const query = (config: unknown, ...rest: unknown[]) =>
    (client.query as (...args: unknown[]) => unknown)(
      config !== null && typeof config === 'object' && 'name' in config && !('submit' in config) ? { ...config, name: undefined } : config,
      ...rest,
    );
  return new Proxy(client, {
    get(target, property) {
      if (property === 'query') return query;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function enteringRequests(pool: pg.Pool, inner: WithPgClient): WithPgClient {
  const wrapped: WithPgClient = (settings, callback) =>
    !settings || Object.keys(settings).length === 0
      ? inner(settings, callback)
      : withUserSession(pool, settings, (client) => makeWithPgClientViaPgClientAlreadyInTransaction(unprepared(client) as never, true)(null, callback as never));
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
