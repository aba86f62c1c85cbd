/**
 * GraphQL requests send their queries unprepared (`unprepared`, src/server/pg-service.ts):
 * a named prepared statement may switch to a generic plan after five
 * executions, costed for an average tenant, which the largest tenants pay
 * for (docs/performance.md, finding 13).
 */
import type pg from 'pg';
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { demoTenant, type DemoTenant } from './fixtures.ts';

let t: TestApi;
let org: DemoTenant;
beforeAll(async () => {
  // In this process: the connections inspected are the server's own.
  t = await startTestApi({}, undefined, undefined, { inProcess: true });
  org = await demoTenant(t, 'plans', 'plans.example');
}, 120_000);
afterAll(() => t?.close());

test('after many executions of the same queries, no API connection holds a prepared statement', async () => {
  for (let i = 0; i < 8; i++) {
    const data = await t.ok(
      `query Repeated($c: UUID!) { leads(first: 5) { totalCount nodes { rowId email } }
         campaign(rowId: $c) { messages { groupedAggregates(groupBy: [STATUS]) { keys totalCount } } } }`,
      { c: org.ids.campaign },
      org.token,
    );
    expect(data.leads.nodes.length).toBeGreaterThan(0);
  }
  // Every connection of the pool, idle now: take them all and look.
  const pool = t.api.pool;
  expect(pool.totalCount).toBeGreaterThan(0);
  const clients: pg.PoolClient[] = [];
  try {
    while (clients.length < pool.totalCount) clients.push(await pool.connect());
    const counts = await Promise.all(clients.map(async (c) => (await c.query<{ n: number }>('select count(*)::int as n from pg_prepared_statements')).rows[0]!.n));
    expect(counts.every((n) => n === 0)).toBe(true);
  } finally {
    for (const c of clients) c.release();
  }
});
