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

function enteringRequests(pool: pg.Pool, inner: WithPgClient): WithPgClient {
  const wrapped: WithPgClient = (settings, callback) =>
    !settings || Object.keys(settings).length === 0
      ? inner(settings, callback)
      : withUserSession(pool, settings, (client) => makeWithPgClientViaPgClientAlreadyInTransaction(client as never, true)(null, callback as never));
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
