/**
 * PostGraphile's pg service, with our start of a request's transaction:
 * @dataplan/pg applies `pgSettings` with set_config(…, true) (role, statement
 * timeout); we then enter the request as its user and tenant with
 * app_hidden.enter_session (or enter_request for another issuer's token), whose SET LOCAL settings also reach Citus worker
 * nodes (set_config's do not). See requestEntry in ./context.ts.
 */
import type pg from 'pg';
import { makePgService } from 'postgraphile/adaptors/pg';
import { requestEntry, type PgSettings } from './context.ts';

type WithPgClient = ((settings: PgSettings | null | undefined, callback: (client: PgClientLike) => Promise<unknown>) => Promise<unknown>) & {
  release?: () => void | PromiseLike<void>;
};
interface PgClientLike {
  query(options: { text: string; values?: unknown[] }): Promise<unknown>;
}

function enteringRequests(inner: WithPgClient): WithPgClient {
  const wrapped: WithPgClient = (settings, callback) => {
    if (!settings) return inner(settings, callback);
    const { config, enter } = requestEntry(settings);
    if (!enter) return inner(config, callback);
    return inner(config, async (client) => {
      await client.query({ text: enter.text, values: enter.values });
      return callback(client);
    });
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
      return enteringRequests(await create(...args));
    },
  };
  return service;
}
