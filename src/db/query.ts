/**
 * The one query shape the modules behind tasks take: a statement and its
 * values in, the rows out. Tasks build it from the client or pool they hold
 * (`queryRows(client)`), so a module needs no knowledge of graphile-worker's
 * helpers or of pg's result objects.
 */
import type { QueryResult, QueryResultRow } from 'pg';

export type RunQuery = <R extends object>(text: string, values?: unknown[]) => Promise<R[]>;

/** Anything with pg's `query`: a pool client, a pool, graphile-worker's task helpers. */
export interface Queryable {
  query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

/** RunQuery over a Queryable. */
export function queryRows(client: Queryable): RunQuery {
  return async <R extends object>(text: string, values: unknown[] = []) => (await client.query<R & Record<string, unknown>>(text, values)).rows as R[];
}
