/**
 * Tenant isolation over real HTTP, for the whole API as the schema describes
 * it (so a new table, relation or mutation is covered without touching this
 * file). Two Pro tenants, A and B, hold a row in every tenant table. With A's
 * token:
 *   - every root connection returns only A's rows, and its totalCount and
 *     aggregates equal A's own figures in the database;
 *   - every node and key lookup of B's rows returns null;
 *   - no relation of A's rows reaches B, no filter or condition finds B;
 *   - every update and delete aimed at B (by key and by node id) fails with
 *     NOT_FOUND and B's data is byte-for-byte unchanged;
 *   - every create lands in A, and one that names B's rows fails;
 * and without a token only the auth operations run.
 */
import {
  getNamedType,
  isInputObjectType,
  isObjectType,
  type GraphQLInputObjectType,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'postgraphile/graphql';
import { startTestApi, type GqlResult, type TestApi } from '../helpers/api.ts';
import { demoTenant, type DemoTenant } from './fixtures.ts';
import {
  decodeNodeId,
  isNodeType,
  liveSchema,
  minimalSelection,
  operationFor,
  sampleArgs,
  relationFields,
  requiredArgs,
  rootConnections,
  sampleInput,
  scalarFields,
  tableTypes,
  type RootConnection,
  type TableType,
} from './schema-walker.ts';
import { sql } from '../../src/db/pg.ts';

/** These walk the whole schema: give them time. */
const LONG = 180_000;

let t: TestApi;
let a: DemoTenant;
let b: DemoTenant;
let schema: GraphQLSchema;
let tables: Map<string, TableType>;
/** Every UUID that identifies something of B's: its tenant, its owner, the primary keys of its rows. */
let bUuids: Set<string>;
/** B's node ids by type, as B's own token sees them. */
let bNodes: Map<string, string[]>;

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const SAMPLE_STRING = 'ada';
const AUTH_OPERATIONS = new Set(['register', 'confirmRegistration', 'login', 'acceptInvitation', 'requestPasswordReset', 'resetPassword', 'verifyTwoFactorLogin', 'verifyEmail']);

const tableOf = (typeName: string) => tables.get(typeName);
const ident = (qualified: string) => sql.ident(...(qualified.split('.') as [string, string]));

/** The rows of a table whose primary key is one of these (decoded from node ids). */
function keyPredicate(table: TableType, keys: unknown[][]) {
  const cols = sql.join(table.pkColumns.map((c) => sql.ident(c)), sql`, `);
  const tuples = sql.join(keys.map((k) => sql`(${sql.join(k.map((v) => sql`${v}::text`), sql`, `)})`), sql`, `);
  const casted = sql.join(table.pkColumns.map((c) => sql`${sql.ident(c)}::text`), sql`, `);
  return keys.length ? sql`(${casted}) in (${tuples})` : sql`false and (${cols}) is not null`;
}

/** Does a response text mention anything of B's? */
function leaksOfB(text: string): string[] {
  const found = new Set<string>();
  for (const uuid of text.match(UUID) ?? []) if (bUuids.has(uuid)) found.add(uuid);
  for (const ids of bNodes.values()) for (const id of ids) if (text.includes(id)) found.add(id);
  return [...found];
}

/** Every page of a root connection: node ids (for Node types) and the raw texts. */
async function readConnection(token: string, rc: RootConnection, selection: string) {
  const args = requiredArgs(rc.field);
  const samples = Object.fromEntries(args.names.map((n) => [n, SAMPLE_STRING]));
  const decl = ['$after: Cursor', args.declarations].filter(Boolean).join(', ');
  const query = `query(${decl}) { page: ${rc.field.name}(first: 100, after: $after${args.uses ? `, ${args.uses}` : ''}) {
    totalCount pageInfo { hasNextPage endCursor } nodes { ${selection} } } }`;
  const ids: string[] = [];
  const texts: string[] = [];
  let after: string | null = null;
  let totalCount = 0;
  for (;;) {
    const result: GqlResult = await t.gql(query, { after, ...samples }, token);
    // Staff-only tables: a member has no privilege at all, which is fine.
    if (result.errors?.length === 1 && result.errors[0]!.extensions?.code === 'FORBIDDEN' && !result.data?.page) {
      return { ids, texts: [result.text], totalCount: 0, forbidden: true };
    }
    if (result.errors?.length) throw new Error(`${rc.field.name}: ${result.text}`);
    texts.push(result.text);
    const page: { totalCount: string | number; pageInfo: { hasNextPage: boolean; endCursor: string }; nodes: Array<{ id?: string }> } = result.data.page;
    totalCount = Number(page.totalCount);
    for (const node of page.nodes) if (node.id) ids.push(node.id);
    if (!page.pageInfo.hasNextPage) break;
    after = page.pageInfo.endCursor;
  }
  return { ids, texts, totalCount, forbidden: false };
}

const hasTotalCount = (rc: RootConnection) => Boolean((getNamedType(rc.field.type) as GraphQLObjectType).getFields().totalCount);
const nodeSelection = (type: GraphQLObjectType) => (isNodeType(type) ? 'id' : scalarFields(type).join(' '));

/** Node ids of every type a token can list (tenant-owned types only, unless `all`). */
async function nodesByType(token: string, all = false): Promise<Map<string, string[]>> {
  const byType = new Map<string, string[]>();
  for (const rc of rootConnections(schema)) {
    const table = tableOf(rc.nodeType.name);
    if (!table || (!all && !table.tenantOwned) || rc.field.name !== table.allRowsField) continue;
    const { ids } = await readConnection(token, rc, 'id');
    byType.set(rc.nodeType.name, ids);
  }
  return byType;
}

/** A digest of every row B owns, per table: any write to B shows up here. */
async function snapshotOf(tenantId: string): Promise<Record<string, string>> {
  const digest: Record<string, string> = {};
  for (const table of tables.values()) {
    if (!table.tenantOwned) continue;
    const [row] = await t.owner.query(sql`
      select count(*)::int as n, md5(coalesce(string_agg(to_jsonb(x)::text, '|' order by to_jsonb(x)::text), '')) as h
      from ${ident(table.table)} x where x.tenant_id = ${tenantId}
    `);
    digest[table.table] = `${row.n}:${row.h}`;
  }
  return digest;
}

/** Row counts per table and tenant, for every tenant but one. */
async function countsExcept(tenantId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables.values()) {
    if (!table.tenantOwned) continue;
    for (const row of await t.owner.query(sql`
      select tenant_id, count(*)::int as n from ${ident(table.table)} where tenant_id <> ${tenantId} group by tenant_id
    `)) counts[`${table.table}/${row.tenant_id}`] = row.n;
  }
  return counts;
}

beforeAll(async () => {
  // In this process: the schema walker reads the server's own preset (PostGraphile's registry and inflection).
  t = await startTestApi({}, undefined, undefined, { inProcess: true });
  a = await demoTenant(t, 'alpha', 'alpha.example');
  b = await demoTenant(t, 'beta', 'beta.example');
  schema = await liveSchema(t, a.token);
  tables = await tableTypes(t);
  bUuids = new Set([b.tenantId, b.userId]);
  for (const table of tables.values()) {
    if (!table.tenantOwned) continue;
    const cols = sql.join(table.pkColumns.map((c) => sql`${sql.ident(c)}::text`), sql`, `);
    for (const row of await t.owner.query(sql`select ${cols} from ${ident(table.table)} where tenant_id = ${b.tenantId}`)) {
      for (const value of Object.values(row)) if (typeof value === 'string' && value.match(UUID)?.[0] === value) bUuids.add(value);
    }
  }
  bNodes = await nodesByType(b.token);
}, LONG);
afterAll(() => t?.close());

test('the demo data gives B rows of every tenant type the API exposes', () => {
  const exposedTenantTypes = rootConnections(schema)
    .filter((rc) => tableOf(rc.nodeType.name)?.tenantOwned && rc.field.name === tableOf(rc.nodeType.name)!.allRowsField)
    .map((rc) => rc.nodeType.name);
  expect(exposedTenantTypes.length).toBeGreaterThan(30);
  expect(exposedTenantTypes.filter((name) => !bNodes.get(name)?.length)).toEqual([]);
}, LONG);

test("every root connection returns only the caller's rows, and totalCount is the caller's own count", async () => {
  const problems: string[] = [];
  for (const rc of rootConnections(schema)) {
    const table = tableOf(rc.nodeType.name);
    const { ids, texts, totalCount, forbidden } = await readConnection(a.token, rc, nodeSelection(rc.nodeType));
    const leaks = texts.flatMap(leaksOfB);
    if (leaks.length) problems.push(`${rc.field.name}: mentions B's ${leaks.slice(0, 3).join(', ')}`);
    if (forbidden && table?.tenantOwned) problems.push(`${rc.field.name}: the owner may not read their own rows`);
    if (!table || !isNodeType(rc.nodeType)) continue;
    const keys = ids.map((id) => decodeNodeId(id).key);
    if (table.tenantOwned) {
      const [{ own }] = await t.owner.query(sql`select count(*)::int as own from ${ident(table.table)} where tenant_id = ${a.tenantId} and ${keyPredicate(table, keys)}`);
      if (own !== ids.length) problems.push(`${rc.field.name}: ${ids.length - own} of ${ids.length} nodes are not A's`);
      if (rc.field.name === table.allRowsField) {
        const [{ n }] = await t.owner.query(sql`select count(*)::int as n from ${ident(table.table)} where tenant_id = ${a.tenantId}`);
        if (hasTotalCount(rc) && totalCount !== n) problems.push(`${rc.field.name}: totalCount ${totalCount}, A owns ${n}`);
        if (ids.length !== n) problems.push(`${rc.field.name}: listed ${ids.length} nodes, A owns ${n}`);
      }
    } else {
      // Shared tables (users, tenants, plans…): nothing A sees may be about B.
      const [{ n }] = await t.owner.query(sql`
        select count(*)::int as n from ${ident(table.table)} x
        where ${keyPredicate(table, keys)} and (to_jsonb(x)::text like ${`%${b.tenantId}%`} or to_jsonb(x)::text like ${`%${b.userId}%`})
      `);
      if (n > 0) problems.push(`${rc.field.name}: ${n} rows about B`);
    }
  }
  expect(problems).toEqual([]);
}, LONG);

test("aggregates and grouped aggregates only count the caller's rows", async () => {
  const problems: string[] = [];
  let checked = 0;
  for (const rc of rootConnections(schema)) {
    const table = tableOf(rc.nodeType.name);
    if (!table?.tenantOwned || rc.field.name !== table.allRowsField) continue;
    const connection = getNamedType(rc.field.type) as GraphQLObjectType;
    const aggregates = connection.getFields().aggregates && getNamedType(connection.getFields().aggregates!.type);
    const distinct = isObjectType(aggregates) && aggregates.getFields().distinctCount && getNamedType(aggregates.getFields().distinctCount!.type);
    if (!isObjectType(distinct)) continue;
    const fields = Object.keys(distinct.getFields()).filter((f) => table.columns.has(f));
    // With a one-column key, the distinct keys of each group add up to the rows.
    const pkField = table.pkFields.length === 1 && fields.includes(table.pkFields[0]!) ? table.pkFields[0] : undefined;
    const groupBy = connection.getFields().groupedAggregates?.args.find((x) => x.name === 'groupBy');
    const groupEnum = groupBy ? getNamedType(groupBy.type) : undefined;
    const firstGroup = groupEnum && 'getValues' in groupEnum ? groupEnum.getValues()[0]?.name : undefined;
    const result = await t.gql(
      `{ c: ${rc.field.name} { aggregates { distinctCount { ${fields.join(' ')} } }
        ${firstGroup && pkField ? `groupedAggregates(groupBy: [${firstGroup}]) { distinctCount { ${pkField} } }` : ''} } }`,
      {},
      a.token,
    );
    if (result.errors) {
      problems.push(`${rc.field.name}: ${result.text}`);
      continue;
    }
    const counted = result.data.c.aggregates.distinctCount;
    const expected = sql.join(fields.map((f) => sql`count(distinct ${sql.ident(table.columns.get(f)!)})::text as ${sql.ident(f)}`), sql`, `);
    const [own] = await t.owner.query(sql`select ${expected} from ${ident(table.table)} where tenant_id = ${a.tenantId}`);
    for (const f of fields) if (String(counted[f]) !== own[f]) problems.push(`${rc.field.name}.distinctCount.${f}: ${counted[f]}, A has ${own[f]}`);
    if (result.data.c.groupedAggregates && pkField) {
      const sum = result.data.c.groupedAggregates.reduce((s: number, g: { distinctCount: Record<string, string> }) => s + Number(g.distinctCount[pkField]), 0);
      const [{ n }] = await t.owner.query(sql`select count(*)::int as n from ${ident(table.table)} where tenant_id = ${a.tenantId}`);
      if (sum !== n) problems.push(`${rc.field.name}.groupedAggregates: groups add up to ${sum}, A owns ${n}`);
    }
    checked += 1;
  }
  expect(checked).toBeGreaterThan(30);
  expect(problems).toEqual([]);
}, LONG);

test("node and key lookups of the other tenant's rows return null (and work for their owner)", async () => {
  const queryFields = schema.getQueryType()!.getFields();
  // A global id is read through node(id:) alone: no xById twin of each lookup.
  expect(Object.values(queryFields).filter((f) => f.args.some((a) => a.name === 'id')).map((f) => f.name)).toEqual(['node']);
  const lookups: Array<{ query: string; typeName: string }> = [];
  for (const [typeName, ids] of bNodes) {
    const table = tableOf(typeName)!;
    const byKey = Object.values(queryFields).find(
      (f) => getNamedType(f.type).name === typeName && f.args.length === table.pkFields.length && table.pkFields.every((p) => f.args.some((x) => x.name === p)),
    );
    for (const id of ids.slice(0, 3)) {
      const key = decodeNodeId(id).key;
      lookups.push({ typeName, query: `node(id: ${JSON.stringify(id)}) { id }` });
      if (byKey) {
        const args = table.pkFields.map((p, i) => `${p}: ${JSON.stringify(key[i])}`).join(', ');
        lookups.push({ typeName, query: `${byKey.name}(${args}) { id }` });
      }
    }
  }
  expect(lookups.length).toBeGreaterThan(100);
  const problems: string[] = [];
  for (let i = 0; i < lookups.length; i += 40) {
    const batch = lookups.slice(i, i + 40);
    const query = `{ ${batch.map((l, j) => `l${j}: ${l.query}`).join('\n')} }`;
    const asA = await t.gql(query, {}, a.token);
    const asB = await t.gql(query, {}, b.token);
    batch.forEach((l, j) => {
      if (asA.data?.[`l${j}`] !== null) problems.push(`A reads ${l.query}`);
      if (!asB.data?.[`l${j}`]) problems.push(`B cannot read its own ${l.query}`);
    });
    if (asA.errors) problems.push(`errors for A: ${asA.text}`);
  }
  expect(problems).toEqual([]);
}, LONG);

test("relations from the caller's rows never reach the other tenant", async () => {
  const problems: string[] = [];
  let relations = 0;
  for (const rc of rootConnections(schema)) {
    if (!isNodeType(rc.nodeType) || requiredArgs(rc.field).names.length) continue;
    const related = relationFields(rc.nodeType);
    if (!related.length) continue;
    relations += related.length;
    const selection = related
      .map((r) => (r.kind === 'node' ? `${r.name} { id }` : `${r.name}(first: 100) { totalCount nodes { id } }`))
      .join(' ');
    const { texts } = await readConnection(a.token, rc, `id ${selection}`);
    const leaks = texts.flatMap(leaksOfB);
    if (leaks.length) problems.push(`${rc.field.name} → relations mention B's ${leaks.slice(0, 3).join(', ')}`);
  }
  expect(relations).toBeGreaterThan(50);
  expect(problems).toEqual([]);
}, LONG);

test('filters and conditions cannot reach the other tenant', async () => {
  const problems: string[] = [];
  let checked = 0;
  for (const rc of rootConnections(schema)) {
    const table = tableOf(rc.nodeType.name);
    const bIds = bNodes.get(rc.nodeType.name);
    if (!table?.tenantOwned || rc.field.name !== table.allRowsField || !bIds?.length || table.pkFields.length !== 1) continue;
    const pk = table.pkFields[0]!;
    const values = bIds.map((id) => String(decodeNodeId(id).key[0]));
    const filterArg = rc.field.args.find((x) => x.name === 'filter');
    const conditionArg = rc.field.args.find((x) => x.name === 'condition');
    const [{ own }] = await t.owner.query(sql`select count(*)::int as own from ${ident(table.table)} where tenant_id = ${a.tenantId}`);
    const queries: Array<[string, number]> = [];
    if (filterArg) {
      const filterType = getNamedType(filterArg.type) as GraphQLInputObjectType;
      if (filterType.getFields()[pk]) {
        queries.push([`filter: { ${pk}: { in: ${JSON.stringify(values)} } }`, 0]);
        queries.push([`filter: { or: [{ ${pk}: { in: ${JSON.stringify(values)} } }, { not: { ${pk}: { in: ${JSON.stringify(values)} } } }] }`, own]);
      }
    }
    if (conditionArg && (getNamedType(conditionArg.type) as GraphQLInputObjectType).getFields()[pk]) {
      queries.push([`condition: { ${pk}: ${JSON.stringify(values[0])} }`, 0]);
    }
    for (const [args, expected] of queries) {
      const result = await t.gql(`{ c: ${rc.field.name}(${args}) { totalCount nodes { id } } }`, {}, a.token);
      checked += 1;
      if (result.errors || Number(result.data.c.totalCount) !== expected || leaksOfB(result.text).length) {
        problems.push(`${rc.field.name}(${args.slice(0, 40)}…): expected ${expected}, got ${result.text.slice(0, 200)}`);
      }
    }
  }
  expect(checked).toBeGreaterThan(60);
  expect(problems).toEqual([]);
}, LONG);

/** The CRUD mutations of the schema, with the table type each one works on. */
function crudMutations(kind: 'create' | 'update' | 'delete') {
  return Object.values(schema.getMutationType()!.getFields()).flatMap((field) => {
    if (!field.name.startsWith(kind)) return [];
    const payload = getNamedType(field.type) as GraphQLObjectType;
    const rowField = Object.values(payload.getFields()).find((f) => tableOf(getNamedType(f.type).name));
    if (!rowField) return [];
    const table = tableOf(getNamedType(rowField.type).name)!;
    const input = getNamedType(field.args.find((x) => x.name === 'input')!.type) as GraphQLInputObjectType;
    return [{ field, table, rowField: rowField.name, inputType: input }];
  });
}

test("update and delete mutations aimed at the other tenant's rows fail with NOT_FOUND and change nothing", async () => {
  const before = await snapshotOf(b.tenantId);
  const problems: string[] = [];
  const mutations = [...crudMutations('update'), ...crudMutations('delete')].filter((m) => m.table.tenantOwned);
  expect(mutations.length).toBeGreaterThan(40);
  const keylessMutations: string[] = [];
  for (const m of mutations) {
    const target = bNodes.get(m.table.typeName)?.[0];
    if (!target) {
      problems.push(`${m.field.name}: B has no ${m.table.typeName} to aim at`);
      continue;
    }
    const key = decodeNodeId(target).key;
    // One-row-per-tenant settings take no key: they always act on the caller's own row.
    const keyless = !m.table.pkFields.some((p) => p in m.inputType.getFields());
    const input: Record<string, unknown> = keyless ? {} : Object.fromEntries(m.table.pkFields.map((p, i) => [p, key[i]]));
    const patchField = m.inputType.getFields().patch;
    const patchType = patchField && getNamedType(patchField.type);
    if (isInputObjectType(patchType)) {
      const candidates = Object.values(patchType.getFields());
      const chosen = candidates.find((f) => ['String', 'Boolean', 'Int'].includes(getNamedType(f.type).name)) ?? candidates[0]!;
      input.patch = { [chosen.name]: sampleInput(getNamedType(chosen.type) as GraphQLInputType, { uuid: a.tenantId, string: 'tampered' }) };
    }
    const result = await t.gql(`mutation($input: ${m.inputType.name}!) { r: ${m.field.name}(input: $input) { ${m.rowField} { id } } }`, { input }, a.token);
    if (keyless) {
      keylessMutations.push(m.field.name);
      continue; // whatever it did, it did to A's row: B's snapshot below proves it
    }
    // NOT_FOUND: B's row is invisible. FORBIDDEN: members may not change this table at all (billing).
    const code = result.errors?.[0]?.extensions?.code;
    if (!['NOT_FOUND', 'FORBIDDEN'].includes(String(code)) || result.data?.r) problems.push(`${m.field.name}: ${result.text.slice(0, 300)}`);
  }
  expect(problems).toEqual([]);
  expect(keylessMutations.sort()).toEqual(['updateTenantConfig', 'updateTenantPolicy']);
  expect(await snapshotOf(b.tenantId)).toEqual(before);
}, LONG);

test("create mutations only ever create rows in the caller's tenant; naming the other tenant's rows fails", async () => {
  const others = await countsExcept(a.tenantId);
  const problems: string[] = [];
  const created: Array<{ typeName: string; id: string }> = [];
  const mutations = crudMutations('create');
  expect(mutations.length).toBeGreaterThan(25);
  for (const m of mutations) {
    const source = bNodes.get(m.table.typeName)?.[0];
    const inputField = Object.values(m.inputType.getFields()).find((f) => f.name !== 'clientMutationId')!;
    const rowInputType = getNamedType(inputField.type) as GraphQLInputObjectType;
    const wanted = Object.keys(rowInputType.getFields());
    // A copy of one of B's rows, as B reads it (references to B's other rows included).
    let row: Record<string, unknown> = sampleInput(rowInputType, { uuid: b.tenantId }) as Record<string, unknown>;
    if (source) {
      const readable = scalarFields(schema.getType(m.table.typeName) as GraphQLObjectType).filter((f) => wanted.includes(f));
      const read = await t.ok(`{ n: node(id: ${JSON.stringify(source)}) { ... on ${m.table.typeName} { ${readable.join(' ')} } } }`, {}, b.token);
      row = Object.fromEntries(Object.entries(read.n).filter(([, v]) => v !== null));
    }
    const namesB = leaksOfB(JSON.stringify(row)).length > 0;
    const result = await t.gql(
      `mutation($input: ${m.inputType.name}!) { r: ${m.field.name}(input: $input) { ${m.rowField} { id } } }`,
      { input: { [inputField.name]: row } },
      a.token,
    );
    const code = result.errors?.[0]?.extensions?.code;
    if (result.data?.r?.[m.rowField]?.id) {
      created.push({ typeName: m.table.typeName, id: result.data.r[m.rowField].id });
      if (namesB) problems.push(`${m.field.name}: succeeded although it names B's rows`);
    } else if (!['NOT_FOUND', 'ALREADY_EXISTS', 'INVALID_INPUT', 'FORBIDDEN', 'PLAN_LIMIT_REACHED', 'CONFLICT'].includes(String(code))) {
      problems.push(`${m.field.name}: ${result.text.slice(0, 300)}`);
    }
  }
  for (const c of created) {
    const table = tableOf(c.typeName)!;
    const [row] = await t.owner.query(sql`select tenant_id from ${ident(table.table)} where ${keyPredicate(table, [decodeNodeId(c.id).key])}`);
    if (table.tenantOwned && row?.tenant_id !== a.tenantId) problems.push(`${c.typeName} ${c.id} landed in ${row?.tenant_id}`);
  }
  expect(problems).toEqual([]);
  expect(created.length).toBeGreaterThan(0);
  expect(await countsExcept(a.tenantId)).toEqual(others);

  // And a fresh row: created in A, invisible to B.
  const lead = await t.ok(`mutation { createLead(input: { lead: { email: "fresh-isolation@probe.example" } }) { lead { id rowId } } }`, {}, a.token);
  const [{ tenant_id }] = await t.owner.query(sql`select tenant_id from app_public.leads where id = ${lead.createLead.lead.rowId}`);
  expect(tenant_id).toBe(a.tenantId);
  expect((await t.ok(`query($id: ID!) { node(id: $id) { id } }`, { id: lead.createLead.lead.id }, b.token)).node).toBeNull();
}, LONG);

test('without a token only the auth operations run; everything else is UNAUTHENTICATED (sign in first) or empty, and nothing changes', async () => {
  const beforeA = await snapshotOf(a.tenantId);
  const beforeB = await snapshotOf(b.tenantId);
  const problems: string[] = [];
  const aNodes = await nodesByType(a.token, true);
  const crudTable = new Map([...crudMutations('update'), ...crudMutations('delete')].map((m) => [m.field.name, m.table.typeName]));
  // Real rows of the right type, so each call gets as far as the database.
  const samplesFor = (name: string) => ({ uuid: a.tenantId, nodeId: aNodes.get(crudTable.get(name) ?? 'Lead')?.[0], string: 'probe value' });

  for (const field of Object.values(schema.getQueryType()!.getFields())) {
    if (['query', 'id', 'node'].includes(field.name)) continue;
    const result = await t.gql(operationFor('query', field, minimalSelection(field.type)), sampleArgs(field, samplesFor(field.name)));
    const value = result.data?.r;
    const empty = value === null || value === undefined || (Array.isArray(value) && value.length === 0) || (value?.nodes && value.nodes.length === 0);
    const code = result.errors?.[0]?.extensions?.code;
    if (!empty || (result.errors && code !== 'UNAUTHENTICATED')) problems.push(`query ${field.name}: ${result.text.slice(0, 200)}`);
  }

  for (const field of Object.values(schema.getMutationType()!.getFields())) {
    if (field.name === 'register') continue; // would create an account; its anonymous use is proven in auth.test.ts
    const result = await t.gql(operationFor('mutation', field, '{ __typename }'), sampleArgs(field, samplesFor(field.name)));
    const code = result.errors?.[0]?.extensions?.code;
    // With no row of that type to name (staff-only tables), the id names nothing: NOT_FOUND.
    const allowed = aNodes.get(crudTable.get(field.name) ?? '')?.length || !crudTable.has(field.name) ? ['UNAUTHENTICATED'] : ['UNAUTHENTICATED', 'NOT_FOUND'];
    if (AUTH_OPERATIONS.has(field.name)) {
      if (code === 'FORBIDDEN' || code === 'UNAUTHENTICATED' || code === 'INTERNAL' || result.status !== 200) problems.push(`${field.name} should be open to anonymous callers: ${result.text.slice(0, 200)}`);
    } else if (!allowed.includes(String(code)) || result.data?.r) {
      problems.push(`mutation ${field.name}: ${result.text.slice(0, 200)}`);
    }
  }
  expect(problems).toEqual([]);
  expect(await snapshotOf(a.tenantId)).toEqual(beforeA);
  expect(await snapshotOf(b.tenantId)).toEqual(beforeB);
}, LONG);
