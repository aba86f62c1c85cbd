/**
 * The API's shape, proven over HTTP: full-text search on leads (ranked,
 * with filters, pagination and aggregates), JSONB custom-field filters,
 * filtering and ordering only where an index serves them, case-insensitive
 * emails, and aggregates / grouped aggregates such as messages per day by
 * status for a campaign.
 */
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  type GraphQLInputObjectType,
  type GraphQLSchema,
} from 'postgraphile/graphql';
import { FILTER_OPERATORS } from '../../src/server/preset.ts';
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { demoTenant, type DemoTenant } from './fixtures.ts';
import { liveSchema, tableTypes, type TableType } from './schema-walker.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
let org: DemoTenant;
let other: DemoTenant;
let schema: GraphQLSchema;
let tables: Map<string, TableType>;

const LEAD = `mutation($lead: LeadInput!) { createLead(input: { lead: $lead }) { lead { rowId } } }`;

beforeAll(async () => {
  // In this process: the schema walker reads the server's own preset (PostGraphile's registry and inflection).
  t = await startTestApi({}, undefined, undefined, { inProcess: true });
  org = await demoTenant(t, 'shape', 'shape.example');
  other = await demoTenant(t, 'shape-other', 'shape-other.example');
  schema = await liveSchema(t, org.token);
  tables = await tableTypes(t);
  for (const lead of [
    { email: 'ada@analytical.example', firstName: 'Ada', lastName: 'Lovelace', company: 'Analytical Engines', title: 'Head of Sales', customFields: { industry: 'saas', tier: 'gold' } },
    { email: 'charles@analytical.example', firstName: 'Charles', lastName: 'Babbage', company: 'Analytical Engines', title: 'Founder', customFields: { industry: 'retail' } },
    { email: 'engines@steam.example', firstName: 'Ann', lastName: 'Other', company: 'Steam Engines Ltd', title: 'Ada liaison', status: 'REPLIED', customFields: { industry: 'saas' } },
  ]) {
    await t.ok(LEAD, { lead }, org.token);
  }
}, 120_000);
afterAll(() => t?.close());

describe('searchLeads', () => {
  const SEARCH = `query($q: String!, $filter: LeadFilter, $first: Int, $after: Cursor) {
    searchLeads(query: $q, filter: $filter, first: $first, after: $after) {
      totalCount nodes { email } pageInfo { hasNextPage endCursor }
      aggregates { distinctCount { company } }
    } }`;

  test('finds words across names, email, company and title, best matches (names) first, only in your organisation', async () => {
    const { searchLeads } = await t.ok(SEARCH, { q: 'ada' }, org.token);
    // Name matches (weight A) rank above a title match (weight C). The demo
    // tenant's own Adas are there too; the other tenant's are not.
    const emails: string[] = searchLeads.nodes.map((n: { email: string }) => n.email);
    expect(emails).toContain('ada@analytical.example');
    expect(emails.indexOf('ada@analytical.example')).toBeLessThan(emails.indexOf('engines@steam.example'));
    expect(emails.at(-1)).toBe('engines@steam.example');
    const [{ n }] = await t.owner.query(sql`
      select count(*)::int as n from app_public.leads where tenant_id = ${org.tenantId} and search @@ websearch_to_tsquery('simple', 'ada')
    `);
    expect(searchLeads.totalCount).toBe(n);
    const [{ foreign }] = await t.owner.query(sql`
      select count(*)::int as foreign from app_public.leads where tenant_id = ${other.tenantId} and search @@ websearch_to_tsquery('simple', 'ada')
    `);
    expect(foreign).toBeGreaterThan(0); // there was something to leak
  });

  test('supports phrases, OR and exclusions; combines with filters, pagination and aggregates', async () => {
    const phrase = await t.ok(SEARCH, { q: '"analytical engines" -charles' }, org.token);
    expect(phrase.searchLeads.nodes).toEqual([{ email: 'ada@analytical.example' }]);
    const either = await t.ok(SEARCH, { q: 'babbage or steam' }, org.token);
    expect(either.searchLeads.nodes.map((n: { email: string }) => n.email).sort()).toEqual(['charles@analytical.example', 'engines@steam.example']);
    const filtered = await t.ok(SEARCH, { q: 'engines', filter: { status: { equalTo: 'REPLIED' } } }, org.token);
    expect(filtered.searchLeads.nodes).toEqual([{ email: 'engines@steam.example' }]);
    const counted = await t.ok(SEARCH, { q: 'engines' }, org.token);
    expect(counted.searchLeads.aggregates.distinctCount.company).toBe(2);
    const page1 = await t.ok(SEARCH, { q: 'engines', first: 2 }, org.token);
    const page2 = await t.ok(SEARCH, { q: 'engines', first: 2, after: page1.searchLeads.pageInfo.endCursor }, org.token);
    expect([...page1.searchLeads.nodes, ...page2.searchLeads.nodes].map((n: { email: string }) => n.email).sort()).toEqual(
      ['ada@analytical.example', 'charles@analytical.example', 'engines@steam.example'],
    );
  });

  test('an empty search is INVALID_INPUT; one made only of punctuation finds nothing', async () => {
    const empty = await t.gql(SEARCH, { q: '   ' }, org.token);
    expect(empty.errors?.[0]).toEqual(expect.objectContaining({ message: 'Enter something to search for.', extensions: { code: 'INVALID_INPUT' } }));
    expect((await t.ok(SEARCH, { q: '!!' }, org.token)).searchLeads.totalCount).toBe(0);
  });
});

test('custom fields filter with JSONB containment (the GIN index operator) and nothing the index cannot serve', async () => {
  const { leads } = await t.ok(`{ leads(filter: { customFields: { contains: { industry: "saas" } } }) { totalCount } }`, {}, org.token);
  const [{ n }] = await t.owner.query(sql`select count(*)::int as n from app_public.leads where tenant_id = ${org.tenantId} and custom_fields @> '{"industry": "saas"}'`);
  expect(leads.totalCount).toBe(n);
  expect(n).toBeGreaterThan(2);
  const both = await t.ok(`{ leads(filter: { customFields: { contains: { industry: "saas", tier: "gold" } } }) { nodes { email } } }`, {}, org.token);
  expect(both.leads.nodes).toEqual([{ email: 'ada@analytical.example' }]);
  const jsonFilter = schema.getType('JSONFilter') as GraphQLInputObjectType;
  expect(Object.keys(jsonFilter.getFields()).every((op) => FILTER_OPERATORS.includes(op))).toBe(true);
  expect(Object.keys(jsonFilter.getFields())).not.toContain('containsKey');
});

test('emails compare case-insensitively, as the column does', async () => {
  const { leads } = await t.ok(`{ leads(filter: { email: { equalTo: "ADA@Analytical.EXAMPLE" } }) { nodes { email } } }`, {}, org.token);
  expect(leads.nodes).toEqual([{ email: 'ada@analytical.example' }]);
});

test('every filter, condition, orderBy and groupBy field of every table is backed by an index on that column, with index-friendly operators', async () => {
  const indexed = new Set(
    (await t.owner.query(sql`
      select c.relname || '.' || a.attname as col
      from pg_index i join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any (i.indkey::int2[])
      where n.nspname = 'app_public' and i.indpred is null
    `)).map((r) => r.col as string),
  );
  const problems: string[] = [];
  let fields = 0;
  const columnOf = (table: TableType, field: string) => table.columns.get(field);
  const check = (table: TableType, what: string, field: string) => {
    const column = columnOf(table, field);
    if (!column) return; // composite helpers like `and`/`or`/`not`
    fields += 1;
    if (!indexed.has(`${table.table.replace('app_public.', '')}.${column}`)) problems.push(`${table.typeName} ${what} ${field}: ${column} has no index`);
  };
  for (const table of tables.values()) {
    for (const suffix of ['Filter', 'Condition'] as const) {
      const type = schema.getType(`${table.typeName}${suffix}`);
      if (!isInputObjectType(type)) continue;
      for (const field of Object.values(type.getFields())) {
        check(table, suffix.toLowerCase(), field.name);
        const operators = getNamedType(field.type);
        if (suffix === 'Filter' && isInputObjectType(operators) && operators.name.endsWith('Filter') && columnOf(table, field.name)) {
          for (const op of Object.keys(operators.getFields())) if (!FILTER_OPERATORS.includes(op)) problems.push(`${operators.name}.${op} is not index-friendly`);
        }
      }
    }
    for (const enumName of [`${table.typeName}GroupBy`]) {
      const type = schema.getType(enumName);
      if (!isEnumType(type)) continue;
      for (const value of type.getValues()) {
        const field = value.name.replace(/_TRUNCATED_TO_(HOUR|DAY)$/, '').toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
        check(table, 'groupBy', field);
      }
    }
  }
  // Order by: the connection's orderBy enum of each table.
  for (const field of Object.values(schema.getQueryType()!.getFields())) {
    const table = [...tables.values()].find((x) => x.allRowsField === field.name);
    const arg = field.args.find((a) => a.name === 'orderBy');
    const type = arg && getNamedType(arg.type);
    if (!table || !isEnumType(type)) continue;
    for (const value of type.getValues()) {
      if (['NATURAL', 'PRIMARY_KEY_ASC', 'PRIMARY_KEY_DESC'].includes(value.name)) continue;
      const name = value.name.replace(/_(ASC|DESC)$/, '').toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      if (!table.columns.get(name)) problems.push(`${type.name}.${value.name} is not a column of ${table.table}`);
      else check(table, 'orderBy', name);
    }
  }
  expect(fields).toBeGreaterThan(200);
  expect(problems).toEqual([]);
});

test('aggregates: messages per day by status for a campaign, and sums', async () => {
  // Three days of sending in the demo campaign, with outcomes.
  await t.owner.query(sql`
    insert into app_public.messages (tenant_id, id, direction, status, email_account_id, campaign_id, lead_id, to_email, subject)
    select ${org.tenantId}, app_public.uuid_v7(date_trunc('day', now()) - make_interval(days => d) + interval '10 hours' + make_interval(mins => i)),
           'outbound', (array['sent', 'delivered', 'opened', 'bounced'])[1 + (i + d) % 4], ${org.ids.inbox}, ${org.ids.campaign}, ${org.ids.lead2},
           'x@probe.example', 'Hello'
    from generate_series(1, 3) d, generate_series(1, 5 + d) i
  `);
  const data = await t.ok(
    `query($c: UUID!) { campaign(rowId: $c) {
       messages { totalCount
         groupedAggregates(groupBy: [CREATED_TRUNCATED_TO_DAY, STATUS]) { keys totalCount distinctCount { rowId } }
         aggregates { totalCount distinctCount { leadId } sum { sendAttempts } } } } }`,
    { c: org.ids.campaign },
    org.token,
  );
  const expected = await t.owner.query(sql`
    select to_char(date_trunc('day', created), 'YYYY-MM-DD') as day, status, count(*)::int as n
    from app_public.messages where tenant_id = ${org.tenantId} and campaign_id = ${org.ids.campaign}
    group by 1, 2
  `);
  const groups: Array<{ keys: string[]; totalCount: number; distinctCount: { rowId: number } }> = data.campaign.messages.groupedAggregates;
  // totalCount is count(*) per group; a row's key is unique, so distinctCount of it agrees.
  expect(groups.map((g) => g.totalCount)).toEqual(groups.map((g) => g.distinctCount.rowId));
  const got = groups.map((g) => ({ day: g.keys[0]!.slice(0, 10), status: g.keys[1]!, n: g.totalCount }));
  const byKey = (r: { day: string; status: string }) => `${r.day}/${r.status}`;
  expect(got.sort((x, y) => byKey(x).localeCompare(byKey(y)))).toEqual(expected.sort((x, y) => byKey(x).localeCompare(byKey(y))));
  expect(got.length).toBeGreaterThan(8);
  expect(data.campaign.messages.totalCount).toBe(expected.reduce((s, r) => s + r.n, 0));
  expect(data.campaign.messages.aggregates.distinctCount.leadId).toBe(2);
  expect(data.campaign.messages.aggregates.totalCount).toBe(data.campaign.messages.totalCount);

  const deals = await t.ok(`{ deals { aggregates { sum { value } average { probability } } } }`, {}, org.token);
  const [{ total }] = await t.owner.query(sql`select sum(value)::text as total from app_public.deals where tenant_id = ${org.tenantId}`);
  expect(Number(deals.deals.aggregates.sum.value)).toBe(Number(total));
});
