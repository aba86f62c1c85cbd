/**
 * SQL outside GraphQL, run exactly as a GraphQL request would run it: one
 * transaction with the caller's role and statement timeout applied and the
 * request entered as the caller's user and tenant in one statement (see
 * requestStart), so RLS, grants and the SQL functions' own checks decide
 * what is allowed. GraphQL requests start the same way
 * (src/server/pg-service.ts).
 */
import type pg from 'pg';
import { requestStart, type PgSettings } from './context.ts';

/**
 * What every connection a request runs on sets once, before its first
 * request: no JIT optimisation, as @dataplan/pg does on every connection it
 * uses (its comment: 50 ms queries took 8 s with it).
 */
export const API_CONNECTION_SETTINGS = 'set jit_optimize_above_cost = -1';

/** Connections given API_CONNECTION_SETTINGS. */
const configured = new WeakSet<pg.PoolClient>();

export async function withUserSession<T>(pool: pg.Pool, settings: PgSettings, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    if (!configured.has(client)) {
      await client.query(API_CONNECTION_SETTINGS);
      configured.add(client);
    }
    await client.query('begin');
    try {
      const start = requestStart(settings);
      await client.query(start.text, start.values);
      const result = await fn(client);
      await client.query('commit');
      return result;
    } catch (error) {
      // A connection that cannot even roll back is not given back to the pool.
      await client.query('rollback').catch(() => {
        broken = true;
      });
      throw error;
    }
  } finally {
    client.release(broken);
  }
}
