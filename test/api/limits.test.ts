/**
 * Limits that keep one client from hurting the others, over real HTTP:
 * page sizes on every connection, query depth, request body size, a
 * statement timeout per request and an optional request budget per client.
 * Each refusal is a clear error with a stable code, and nothing is written.
 */
import { request } from 'node:http';
import type pg from 'pg';
import { getNamedType, type GraphQLObjectType } from 'postgraphile/graphql';
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { demoTenant, ownedTenant, putTenantOnPlan, type DemoTenant } from './fixtures.ts';
import { liveSchema, relationFields, requiredArgs, rootConnections } from './schema-walker.ts';
import { createOwnedTenant } from '../helpers/tenants.ts';
import { eventually, waitBudget } from '../helpers/eventually.ts';
import { sql } from '../../src/db/pg.ts';

const LONG = 120_000;

/**
 * Records the text of every statement the API's own pool sends while `run`
 * runs (the API serves nothing else meanwhile): what PostgreSQL was asked.
 */
function statementRecorder(pool: pg.Pool) {
  const wrapped = new WeakSet<pg.PoolClient>();
  let recording: string[] | null = null;
  pool.on('acquire', (client) => {
    if (wrapped.has(client)) return;
    wrapped.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((...args: unknown[]) => {
      const first = args[0] as string | { text?: string } | undefined;
      recording?.push(typeof first === 'string' ? first : (first?.text ?? ''));
      return query(...args);
    }) as typeof client.query;
  });
  return async (run: () => Promise<unknown>): Promise<string[]> => {
    recording = [];
    try {
      await run();
      return recording.filter((text) => !/^(begin|commit|rollback)\b|set_config|^set /i.test(text));
    } finally {
      recording = null;
    }
  };
}

describe('page size', () => {
  let t: TestApi;
  let org: DemoTenant;
  let statementsOf: ReturnType<typeof statementRecorder>;
  beforeAll(async () => {
    // In this process: the statements recorded are those of the server's own pool.
    t = await startTestApi({ MAX_PAGE_SIZE: '60' }, undefined, undefined, { inProcess: true });
    statementsOf = statementRecorder(t.api.pool);
    org = await demoTenant(t, 'pages', 'pages.example');
    // 70 more leads, all at one CRM account.
    await t.owner.query(sql`
      insert into app_public.leads (tenant_id, email, crm_account_id)
      select ${org.tenantId}, 'bulk' || g || '@pages.example', ${org.ids.crmAccount} from generate_series(1, 70) g
    `);
  }, LONG);
  afterAll(() => t?.close());

  test('without first/last a page holds the default (50), on root, relation and function connections', async () => {
    const data = await t.ok(
      `{ leads { totalCount nodes { rowId } pageInfo { hasNextPage } }
         crmAccount(rowId: "${org.ids.crmAccount}") { leads { totalCount nodes { rowId } } }
         searchLeads(query: "bulk1") { nodes { rowId } } }`,
      {},
      org.token,
    );
    expect(data.leads.nodes).toHaveLength(50);
    expect(data.leads.totalCount).toBe(80);
    expect(data.leads.pageInfo.hasNextPage).toBe(true);
    expect(data.crmAccount.leads.nodes).toHaveLength(50);
    expect(data.crmAccount.leads.totalCount).toBe(71);
    // `last` alone pages from the end without the default first.
    expect((await t.ok(`{ leads(last: 3) { nodes { rowId } } }`, {}, org.token)).leads.nodes).toHaveLength(3);
    expect((await t.ok(`{ leads(first: 60) { nodes { rowId } } }`, {}, org.token)).leads.nodes).toHaveLength(60);
  }, LONG);

  test('aggregate-only selections (totalCount, aggregates, groupedAggregates) send no LIMIT: no page of rows is fetched', async () => {
    const queries = [
      `{ leads { totalCount } }`,
      `{ leads { aggregates { distinctCount { email } } } }`,
      `{ messages { groupedAggregates(groupBy: [STATUS]) { keys distinctCount { rowId } } } }`,
      `{ campaign(rowId: "${org.ids.campaign}") { messages { totalCount groupedAggregates(groupBy: [STATUS]) { keys distinctCount { rowId } } } } }`,
      `{ campaign(rowId: "${org.ids.campaign}") { messages { groupedAggregates(groupBy: [STATUS]) { keys totalCount } } } }`,
      `{ crmAccount(rowId: "${org.ids.crmAccount}") { leads { totalCount aggregates { distinctCount { email } } } } }`,
      `{ searchLeads(query: "bulk1") { totalCount } }`,
    ];
    for (const query of queries) {
      const statements = await statementsOf(() => t.ok(query, {}, org.token));
      expect(statements.length).toBeGreaterThan(0);
      expect({ query, limits: statements.filter((text) => /\blimit\b/i.test(text)) }).toEqual({ query, limits: [] });
    }
    // The counts are still the whole collection's.
    const data = await t.ok(
      `{ leads { totalCount aggregates { distinctCount { email } } }
         crmAccount(rowId: "${org.ids.crmAccount}") { leads { totalCount } } }`,
      {},
      org.token,
    );
    expect(data.leads).toEqual({ totalCount: 80, aggregates: { distinctCount: { email: 80 } } });
    expect(data.crmAccount.leads.totalCount).toBe(71);
    // A group's totalCount is a plain count(*): no count(distinct …), whose sort of every key it avoids.
    const grouped = (await statementsOf(() => t.ok(`{ leads { groupedAggregates(groupBy: [STATUS]) { keys totalCount } } }`, {}, org.token))).join('\n');
    expect(grouped).toMatch(/count\(\*\)/i);
    expect(grouped).not.toMatch(/count\(distinct/i);
    // Inside a list: the outer page is the only one fetched.
    const nested = await statementsOf(() => t.ok(`{ crmAccounts { nodes { rowId leads { totalCount } } } }`, {}, org.token));
    expect(nested.join('\n').match(/\blimit\b/gi)).toHaveLength(1);
  }, LONG);

  test('where a page is read (nodes, edges, pageInfo) the SQL caps it at the default, in nested connections too', async () => {
    for (const [query, limit] of [
      [`{ leads { totalCount nodes { rowId } } }`, 'limit 50'],
      [`{ leads { edges { cursor } } }`, 'limit 50'],
      [`{ leads { pageInfo { hasNextPage } } }`, 'limit 51'], // one more, to know there is a next page
      [`{ leads { totalCount pageInfo { endCursor } } }`, 'limit 50'],
    ] as const) {
      const statements = await statementsOf(() => t.ok(query, {}, org.token));
      expect({ query, sql: statements.join('\n') }).toEqual({ query, sql: expect.stringContaining(limit) });
    }
    expect((await t.ok(`{ leads { pageInfo { hasNextPage } } }`, {}, org.token)).leads.pageInfo.hasNextPage).toBe(true);
    // A connection inside every row of another one gets the default page as well.
    const data = await t.ok(`{ crmAccounts { nodes { rowId leads { totalCount nodes { rowId } } } } }`, {}, org.token);
    const account = data.crmAccounts.nodes.find((a: { rowId: string }) => a.rowId === org.ids.crmAccount);
    expect(account.leads.totalCount).toBe(71);
    expect(account.leads.nodes).toHaveLength(50);
    // Aggregates beside a page still count the whole collection.
    const both = await t.ok(`{ leads(first: 5) { totalCount aggregates { distinctCount { email } } nodes { rowId } } }`, {}, org.token);
    expect(both.leads).toEqual({ totalCount: 80, aggregates: { distinctCount: { email: 80 } }, nodes: expect.any(Array) });
    expect(both.leads.nodes).toHaveLength(5);
  }, LONG);

  test('first/last out of range is INVALID_INPUT on that field, whatever the selection', async () => {
    for (const selection of ['totalCount', 'aggregates { distinctCount { email } }', 'nodes { rowId }', '__typename']) {
      for (const [pagination, name] of [['first: 61', 'first'], ['first: -1', 'first'], ['last: 61', 'last'], ['last: -3', 'last']]) {
        const result = await t.gql(`{ leads(${pagination}) { ${selection} } }`, {}, org.token);
        expect({ selection, pagination, errors: result.errors }).toEqual({
          selection,
          pagination,
          errors: [expect.objectContaining({ path: ['leads'], extensions: { code: 'INVALID_INPUT' }, message: expect.stringContaining(`\`${name}\` must be a whole number between 0 and 60`) })],
        });
      }
    }
    // Through variables too, and a null variable means the default.
    const viaVariable = await t.gql(`query($n: Int) { leads(first: $n) { totalCount } }`, { n: 1000 }, org.token);
    expect(viaVariable.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
    expect((await t.ok(`query($n: Int) { leads(first: $n) { nodes { rowId } } }`, { n: null }, org.token)).leads.nodes).toHaveLength(50);
  }, LONG);

  test('asking any connection for more than the maximum is INVALID_INPUT naming the limit', async () => {
    const schema = await liveSchema(t, org.token);
    const problems: string[] = [];
    let checked = 0;
    for (const rc of rootConnections(schema)) {
      if (!rc.field.args.some((a) => a.name === 'first')) continue;
      const args = requiredArgs(rc.field);
      const sample = Object.fromEntries(args.names.map((n) => [n, 'ada']));
      const declarations = args.declarations ? `(${args.declarations})` : '';
      const paginations = ['first: 61', 'first: -1', ...(rc.field.args.some((a) => a.name === 'last') ? ['last: 61'] : [])];
      for (const pagination of paginations) {
        const result = await t.gql(`query${declarations} { c: ${rc.field.name}(${[pagination, args.uses].filter(Boolean).join(', ')}) { __typename } }`, sample, org.token);
        checked += 1;
        const error = result.errors?.[0];
        const forbidden = error?.extensions?.code === 'FORBIDDEN'; // staff-only tables: refused before paging
        if (!forbidden && (error?.extensions?.code !== 'INVALID_INPUT' || !/must be a whole number between 0 and 60/.test(error.message))) {
          problems.push(`${rc.field.name}(${pagination}): ${result.text.slice(0, 200)}`);
        }
      }
      // Relation connections, reached through one of the organisation's rows.
      if (!args.names.length) {
        for (const rel of relationFields(rc.nodeType).filter((r) => r.kind === 'connection')) {
          const connection = getNamedType(rc.nodeType.getFields()[rel.name]!.type) as GraphQLObjectType;
          if (!rc.nodeType.getFields()[rel.name]!.args.some((a) => a.name === 'first') || !connection) continue;
          const result = await t.gql(`{ c: ${rc.field.name}(first: 1) { nodes { ${rel.name}(first: 61) { __typename } } } }`, {}, org.token);
          const rows = result.data?.c?.nodes?.length ?? 0;
          if (rows === 0) continue;
          checked += 1;
          if (result.errors?.[0]?.extensions?.code !== 'INVALID_INPUT') problems.push(`${rc.field.name}.${rel.name}(first: 61): ${result.text.slice(0, 200)}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(150);
    expect(problems).toEqual([]);
  }, LONG);
});

describe('query depth, body size and the request budget', () => {
  let t: TestApi;
  let token: string;
  let tenantId: string;
  beforeAll(async () => {
    t = await startTestApi({ MAX_QUERY_DEPTH: '6', MAX_BODY_BYTES: '4096', RATE_LIMIT_PER_MINUTE: '40' });
    ({ token, tenantId } = await ownedTenant(t, 'depth'));
  }, LONG);
  afterAll(() => t?.close());

  test('a query nested deeper than MAX_QUERY_DEPTH is refused before it runs (QUERY_TOO_COMPLEX), fragments included', async () => {
    const deep = `{ leads { nodes { crmAccount { leads { nodes { crmAccount { rowId } } } } } } }`;
    const result = await t.gql(deep, {}, token);
    expect(result.status).toBe(400);
    expect(result.errors).toEqual([expect.objectContaining({ message: 'This query is nested 7 levels deep; the maximum is 6.', extensions: { code: 'QUERY_TOO_COMPLEX' } })]);
    const viaFragments = `query { leads { ...L } } fragment L on LeadConnection { nodes { crmAccount { ...A } } } fragment A on CrmAccount { leads { nodes { crmAccount { rowId } } } }`;
    expect((await t.gql(viaFragments, {}, token)).errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    // At the limit it runs; introspection (which GraphiQL needs) is not counted.
    expect((await t.gql(`{ leads { nodes { crmAccount { leads { nodes { rowId } } } } } }`, {}, token)).errors).toBeUndefined();
    expect((await t.gql(`{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }`, {}, token)).errors).toBeUndefined();
  });

  test('a request body over MAX_BODY_BYTES gets a 413 with a clear JSON error, declared length or not', async () => {
    const big = JSON.stringify({ query: `{ __typename }`, variables: { padding: 'x'.repeat(10_000) } });
    const declared = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({
      errors: [{ message: `The request body is ${Buffer.byteLength(big)} bytes; the limit is 4096 bytes.`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
    });
    // Chunked (no Content-Length): grafserv stops reading at the limit.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(big.slice(i * 1000, (i + 1) * 1000));
      req.end(big.slice(10_000));
    });
    expect(chunked.status).toBe(413);
    expect(chunked.body).toMatch(/Too much data/);
    expect((await t.gql(`{ __typename }`, {}, token)).status).toBe(200);
  });

  test('each signed-in user (or anonymous IP) has RATE_LIMIT_PER_MINUTE requests; then 429 with Retry-After', async () => {
    const other = await ownedTenant(t, 'budget-other');
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 45; i++) {
      last = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{"query":"{ __typename }"}' });
      statuses.push(last.status);
      if (last.status === 429) break;
    }
    // Earlier tests in this block spent part of this user's budget.
    expect(statuses.at(-1)).toBe(429);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await last!.json()).toEqual({ errors: [{ message: expect.stringMatching(/^Too many requests: the limit is 40 per minute\. Retry in \d+ s\.$/), extensions: { code: 'RATE_LIMITED' } }] });
    // Someone else is not affected.
    expect((await t.gql(`{ currentTenant { rowId } }`, {}, other.token)).data).toEqual({ currentTenant: { rowId: other.tenantId } });
    expect(tenantId).toBeDefined();
  });
});

describe('statement timeout', () => {
  let t: TestApi;
  let org: { token: string; tenantId: string };
  beforeAll(async () => {
    t = await startTestApi({ STATEMENT_TIMEOUT_MS: '150' });
    // The session is minted, not signed in over HTTP: a sign-in (bcrypt, and
    // on Citus several round trips) may itself take longer than 150 ms on a loaded machine.
    const { userId, tenantId } = await createOwnedTenant(t.owner, 'slow', { tenantName: 'Org slow' });
    org = {
      tenantId,
      token: await t.session({ role: 'member', user_id: userId, tenant_id: tenantId, expires_at: new Date(Date.now() + 3600_000) }),
    };
    await putTenantOnPlan(t.owner, org.tenantId, 'enterprise');
    await t.owner.query(sql`
      insert into app_public.leads (tenant_id, email, name, company, title, custom_fields)
      select ${org.tenantId}, 'lead' || g || '@slow' || (g % 997) || '.example', 'Name ' || g, 'Company ' || (g % 5000), 'Title ' || (g % 300),
             jsonb_build_object('n', g, 'bucket', g % 17)
      from generate_series(1, 120000) g
    `);
  }, LONG);
  afterAll(() => t?.close());

  test('a request whose SQL runs longer than STATEMENT_TIMEOUT_MS is cancelled with TIMEOUT; light requests still work', async () => {
    const started = Date.now();
    const heavy = await t.gql(`{ leads { aggregates { distinctCount { email name company title customFields } } } }`, {}, org.token);
    expect(heavy.errors?.[0]).toEqual(expect.objectContaining({ message: 'The request took too long and was cancelled.', extensions: { code: 'TIMEOUT' } }));
    expect(heavy.text).not.toMatch(/select|statement timeout|canceling/i);
    expect(Date.now() - started).toBeLessThan(waitBudget(5_000));
    // The server still answers: the cancelled statement left no connection broken. (A few tries: on a
    // loaded machine, Citus's round trips alone can take a light request past 150 ms now and then.)
    const light = await eventually(async () => {
      const r = await t.gql(`{ leads(first: 5) { nodes { rowId } } }`, {}, org.token);
      if (r.errors?.some((e: { extensions?: { code?: string } }) => e.extensions?.code !== 'TIMEOUT')) throw new Error(r.text);
      return r.data?.leads;
    }, 20_000, 200);
    expect(light.nodes).toHaveLength(5);
  }, LONG);
});
