/**
 * @databases/pg is CommonJS; under NodeNext its default import is typed as
 * the module object. This is the one place that unwraps it.
 */
import pg from '@databases/pg';

export const createPool = pg.default;
export { sql } from '@databases/pg';
export type { ConnectionPool, Queryable, SQLQuery, Transaction } from '@databases/pg';
