/**
 * Types a client can use directly (docs/api.md, "Types of keys, numbers and
 * statuses"): status columns are enums that follow their CHECK constraints,
 * invalid values are refused by GraphQL validation, counts are JSON numbers,
 * every key is a UUID or BigInt string, and delete payloads return the
 * deleted row's rowId.
 */
import {
  getNamedType,
  isEnumType,
  isObjectType,
  type GraphQLEnumType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'postgraphile/graphql';
import { enumColumnsOfCheck, enumValueName } from '../../plugins/check-enums.ts';
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { demoTenant, type DemoTenant } from './fixtures.ts';
import { liveSchema, tableTypes, type TableType } from './schema-walker.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
let org: DemoTenant;
let schema: GraphQLSchema;
let tables: Map<string, TableType>;

beforeAll(async () => {
  // In this process: the schema walker reads the server's own preset (PostGraphile's registry and inflection).
  t = await startTestApi({}, undefined, undefined, { inProcess: true });
  org = await demoTenant(t, 'api-types', 'api-types.example');
  schema = await liveSchema(t, org.token);
  tables = await tableTypes(t);
}, 120_000);
afterAll(() => t?.close());

interface CheckList {
  table: string;
  column: string;
  values: string[];
}

/**
 * Straight from the catalogue, independently of the plugin's parser: every
 * text column of a table whose CHECK is `col in (…)`, or `col is null or col
 * in (…)` as one conjunct, with the listed values.
 */
async function checkLists(): Promise<CheckList[]> {
  const rows: Array<{ table: string; def: string }> = await t.owner.query(sql`
    select format('%I.%I', n.nspname, c.relname) as table, pg_get_constraintdef(k.oid) as def
      from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
     where k.contype = 'c' and n.nspname = 'app_public' and not c.relispartition`);
  const lists: CheckList[] = [];
  const shapes = [
    /^CHECK \(\((\w+) = ANY \(ARRAY\[([^\]]*)\]\)\)\)$/,
    /\(\((\w+) IS NULL\) OR \(\1 = ANY \(ARRAY\[([^\]]*)\]\)\)\)/,
  ];
  for (const { table, def } of rows) {
    for (const shape of shapes) {
      const match = shape.exec(def);
      if (match) lists.push({ table, column: match[1]!, values: [...match[2]!.matchAll(/'((?:[^']|'')*)'::text/g)].map((m) => m[1]!.replace(/''/g, "'")) });
    }
  }
  return lists;
}

const typeOfTable = (table: string) => [...tables.values()].find((tt) => tt.table === table);
const fieldOfColumn = (tt: TableType, column: string) => [...tt.columns].find(([, c]) => c === column)?.[0];

describe('reading CHECK constraints', () => {
  test('only a list the column must be in makes an enum', () => {
    const read = (def: string) => Object.fromEntries(enumColumnsOfCheck(def));
    expect(read(`CHECK ((status = ANY (ARRAY['a'::text, 'it''s, ok'::text])))`)).toEqual({ status: ['a', "it's, ok"] });
    expect(read(`CHECK ((status = ANY (ARRAY['a'::text, 'b'::text]))) NOT VALID`)).toEqual({ status: ['a', 'b'] });
    expect(read(`CHECK (((kind = 'x'::text) = (sub IS NOT NULL)) AND ((sub IS NULL) OR (sub = ANY (ARRAY['p'::text, 'q'::text]))))`)).toEqual({ sub: ['p', 'q'] });
    expect(read(`CHECK (("Odd col" = ANY (ARRAY['v'::character varying, 'w'::character varying])))`)).toEqual({ 'Odd col': ['v', 'w'] });
    // Not a list the column is confined to:
    expect(read(`CHECK (((stage = ANY (ARRAY['won'::text, 'lost'::text])) = (closed IS NOT NULL)))`)).toEqual({});
    expect(read(`CHECK (((a = ANY (ARRAY['x'::text])) OR (b IS NULL)))`)).toEqual({});
    expect(read(`CHECK (((v IS NULL) OR (v = ANY (ARRAY['s'::text])) OR (v ~ '^[1-9]$'::text)))`)).toEqual({});
    expect(read(`CHECK ((char_length(name) < 100))`)).toEqual({});
  });

  test('enum names: upper case, words joined by _, + as PLUS, a leading digit prefixed by the column', () => {
    expect(['not_interested', 'past_due', 'auto-reply', '5000+', '1-10'].map((v) => enumValueName(v, 'company_size')))
      .toEqual(['NOT_INTERESTED', 'PAST_DUE', 'AUTO_REPLY', 'SIZE_5000_PLUS', 'SIZE_1_10']);
  });
});

describe('statuses are enums', () => {
  test('every column a CHECK limits to a list is an enum whose values are exactly the list, in inputs and filters too', async () => {
    const lists = await checkLists();
    expect(lists.length).toBeGreaterThanOrEqual(22);
    let exposed = 0;
    for (const { table, column, values } of lists) {
      const tt = typeOfTable(table);
      const type = tt && (schema.getType(tt.typeName) as GraphQLObjectType | undefined);
      const fieldName = tt && fieldOfColumn(tt, column);
      if (!tt || !type || !fieldName || !type.getFields()[fieldName]) continue; // not exposed
      exposed++;
      const named = getNamedType(type.getFields()[fieldName]!.type);
      expect({ table, column, kind: isEnumType(named) ? 'enum' : named.name }).toEqual({ table, column, kind: 'enum' });
      const names = (named as GraphQLEnumType).getValues().map((v) => v.name).sort();
      expect({ table, column, names }).toEqual({ table, column, names: values.map((v) => enumValueName(v, column)).sort() });
      // The same enum wherever the column is an input.
      for (const input of [`${tt.typeName}Input`, `${tt.typeName}Patch`, `${tt.typeName}Condition`]) {
        const field = (schema.getType(input) as GraphQLObjectType | undefined)?.getFields()[fieldName];
        if (field) expect(`${input}.${fieldName}: ${getNamedType(field.type).name}`).toBe(`${input}.${fieldName}: ${named.name}`);
      }
      const filter = (schema.getType(`${tt.typeName}Filter`) as GraphQLObjectType | undefined)?.getFields()[fieldName];
      if (filter) expect(getNamedType(filter.type).name).toBe(`${named.name}Filter`);
    }
    expect(exposed).toBeGreaterThanOrEqual(22);
    expect(schema.getType('CampaignStatus')).toBeDefined();
  });

  test('an invalid value is refused by GraphQL validation, before the database, with a clear message', async () => {
    const literal = await t.gql(`{ leads(condition: { status: ACTIV }) { totalCount } }`, {}, org.token);
    expect(literal.status).toBe(400);
    expect(literal.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(literal.errors?.[0]?.message).toMatch(/Value "ACTIV" does not exist in "LeadStatus" enum/);

    // The stored text is not an enum value either: clients send the GraphQL name.
    const variable = await t.gql(`query($s: LeadStatus) { leads(condition: { status: $s }) { totalCount } }`, { s: 'active' }, org.token);
    expect(variable.errors?.[0]?.message).toMatch(/Value "active" does not exist in "LeadStatus" enum/);
    expect(variable.data ?? null).toBeNull();
  });

  test('values map to the stored text exactly, both ways (filters and grouping included)', async () => {
    const { createCrmAccount } = await t.ok(
      `mutation($a: CrmAccountInput!) { createCrmAccount(input: { crmAccount: $a }) { crmAccount { rowId companySize } } }`,
      { a: { name: 'Big Co', companySize: 'SIZE_5000_PLUS' } }, org.token);
    expect(createCrmAccount.crmAccount.companySize).toBe('SIZE_5000_PLUS');
    const [stored] = await t.owner.query(sql`select company_size from app_public.crm_accounts where id = ${createCrmAccount.crmAccount.rowId}`);
    expect(stored.company_size).toBe('5000+');

    const { createLead } = await t.ok(`mutation($l: LeadInput!) { createLead(input: { lead: $l }) { lead { rowId status } } }`,
      { l: { email: 'enum-lead@api-types.example', status: 'NOT_INTERESTED' } }, org.token);
    expect(createLead.lead.status).toBe('NOT_INTERESTED');
    await t.owner.query(sql`update app_public.leads set status = 'do_not_contact' where id = ${createLead.lead.rowId}`);
    const { leads } = await t.ok(`{ leads(filter: { status: { in: [DO_NOT_CONTACT] } }) { nodes { rowId status } } }`, {}, org.token);
    expect(leads.nodes).toEqual([{ rowId: createLead.lead.rowId, status: 'DO_NOT_CONTACT' }]);
    const grouped = await t.ok(`{ leads { groupedAggregates(groupBy: STATUS) { keys } } }`, {}, org.token);
    expect(grouped.leads.groupedAggregates.map((g: { keys: string[] }) => g.keys[0])).toContain('do_not_contact');
  });
});

describe('counts are numbers', () => {
  test('no field returns a BigInt but a key; counts come back as JSON numbers', async () => {
    const bigints: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        if (getNamedType(field.type).name === 'BigInt' && !/^(rowId|\w+Id|deleted\w+RowId)$/.test(field.name)) bigints.push(`${type.name}.${field.name}`);
      }
    }
    expect(bigints).toEqual([]);

    const data = await t.ok(`{
      contactLists(first: 5) { totalCount nodes { leadCount } aggregates { distinctCount { rowId name } } }
      currentUsage(first: 5) { used limit }
      tenantStats { sent opened }
    }`, {}, org.token);
    expect(typeof data.contactLists.totalCount).toBe('number');
    expect(data.contactLists.nodes.length).toBeGreaterThan(0);
    for (const node of data.contactLists.nodes) expect(typeof node.leadCount).toBe('number');
    expect(data.contactLists.aggregates.distinctCount).toEqual({ rowId: data.contactLists.totalCount, name: expect.any(Number) });
    expect(data.currentUsage.length).toBeGreaterThan(0);
    for (const usage of data.currentUsage) expect(typeof usage.used).toBe('number');
    expect(typeof data.tenantStats.sent).toBe('number');
  });
});

describe('keys', () => {
  test('every rowId is a UUID or a BigInt, the same type in its lookup, its references and its delete payload', () => {
    const rowIdTypes = new Map<string, string>();
    for (const tt of tables.values()) {
      const type = schema.getType(tt.typeName) as GraphQLObjectType | undefined;
      const rowId = type?.getFields().rowId;
      if (!rowId) continue;
      const name = getNamedType(rowId.type).name;
      rowIdTypes.set(tt.typeName, name);
      expect(`${tt.typeName}.rowId: ${name}`).toMatch(/: (UUID|BigInt)$/);
    }
    expect([...new Set(rowIdTypes.values())].sort()).toEqual(['BigInt', 'UUID']);
    expect(rowIdTypes.get('Permission')).toBe('BigInt');
    for (const [typeName, keyType] of rowIdTypes) {
      const payload = schema.getType(`Delete${typeName}Payload`) as GraphQLObjectType | undefined;
      const deleted = payload?.getFields()[`deleted${typeName}RowId`];
      if (payload) expect(`${payload.name}: ${deleted && getNamedType(deleted.type).name}`).toBe(`${payload.name}: ${keyType}`);
    }
    // References to integer keys are BigInt like the keys.
    expect(getNamedType((schema.getType('TemplateTag') as GraphQLObjectType).getFields().tagId!.type).name).toBe('BigInt');
    expect(getNamedType((schema.getType('StaffMember') as GraphQLObjectType).getFields().roleId!.type).name).toBe('BigInt');
  });

  test('a delete payload returns the rowId that was passed in (BigInt and UUID keys)', async () => {
    const { createTag } = await t.ok(`mutation { createTag(input: { tag: { value: "api-types-tag" } }) { tag { rowId } } }`, {}, org.token);
    const tagId = createTag.tag.rowId;
    expect(typeof tagId).toBe('string');
    const { deleteTag } = await t.ok(`mutation($id: BigInt!) { deleteTag(input: { rowId: $id }) { deletedTagRowId deletedTagId } }`, { id: tagId }, org.token);
    expect(deleteTag.deletedTagRowId).toBe(tagId);
    expect(typeof deleteTag.deletedTagId).toBe('string');

    const { createLead } = await t.ok(`mutation { createLead(input: { lead: { email: "deleted@api-types.example" } }) { lead { rowId } } }`, {}, org.token);
    const { deleteLead } = await t.ok(`mutation($id: UUID!) { deleteLead(input: { rowId: $id }) { deletedLeadRowId } }`, { id: createLead.lead.rowId }, org.token);
    expect(deleteLead.deletedLeadRowId).toBe(createLead.lead.rowId);
  });
});
