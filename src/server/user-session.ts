/**
 * SQL outside GraphQL, run exactly as a GraphQL request would run it: one
 * transaction on the authenticator's pool with the caller's role and
 * statement timeout applied and the request entered as the caller's user and
 * tenant in one statement (see requestStart), so RLS, grants and the SQL functions' own checks
 * decide what is allowed.
 */
import type pg from 'pg';
import { requestStart, type PgSettings } from './context.ts';

export async function withUserSession<T>(pool: pg.Pool, settings: PgSettings, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const start = requestStart(settings);
    await client.query(start.text, start.values);
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
