/**
 * Walks the live GraphQL schema (introspected over HTTP) so that the API
 * suites cover every root field, type, relation and mutation without a list
 * to maintain: a new table appears in the schema and is tested. The mapping
 * from GraphQL types to tables comes from PostGraphile's own registry
 * (gathered with the server's preset) and inflection.
 */
import type { PgCodecWithAttributes, PgResource } from 'postgraphile/@dataplan/pg';
import { buildInflection, gather } from 'postgraphile/graphile-build';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'postgraphile/graphql';
import type { TestApi } from '../helpers/api.ts';

/** The server's resolved preset: the file must start its server with `{ inProcess: true }` to read it. */
export function serverPreset(t: TestApi): GraphileConfig.ResolvedPreset {
  if (!t.api.pgl) throw new Error('The schema walker reads the server\'s own preset: start it with startTestApi(…, { inProcess: true }).');
  return t.api.pgl.getResolvedPreset();
}

export async function liveSchema(t: TestApi, token?: string): Promise<GraphQLSchema> {
  const data = await t.ok<IntrospectionQuery>(getIntrospectionQuery(), {}, token);
  return buildClientSchema(data);
}

export interface TableType {
  typeName: string;
  /** Schema-qualified table name, for SQL. */
  table: string;
  tenantOwned: boolean;
  /** Primary key columns as the API sees them (tenant_id is dropped where it is not the whole key). */
  pkColumns: string[];
  /** The GraphQL field (and argument) name of each primary key column. */
  pkFields: string[];
  /** GraphQL field name → column. */
  columns: Map<string, string>;
  /** The root field listing every row (e.g. `leads`). */
  allRowsField: string;
}

/** Every table type of the API, by GraphQL type name. */
export async function tableTypes(t: TestApi): Promise<Map<string, TableType>> {
  const preset = serverPreset(t);
  const input = await gather(preset);
  const inflection = buildInflection(preset);
  const result = new Map<string, TableType>();
  for (const resource of Object.values(input.pgRegistry.pgResources) as PgResource[]) {
    const codec = resource.codec as PgCodecWithAttributes;
    const pg = codec.extensions?.pg;
    if (resource.parameters || resource.isUnique || !codec.attributes || !pg || resource.isVirtual) continue;
    const primary = resource.uniques.find((u) => u.isPrimary);
    if (!primary) continue;
    const field = (attributeName: string) => inflection.attribute({ attributeName, codec });
    result.set(inflection.tableType(codec), {
      typeName: inflection.tableType(codec),
      table: `${pg.schemaName}.${pg.name}`,
      tenantOwned: 'tenant_id' in codec.attributes,
      pkColumns: [...primary.attributes],
      pkFields: primary.attributes.map(field),
      columns: new Map(Object.keys(codec.attributes).map((a) => [field(a), a])),
      allRowsField: inflection.allRowsConnection(resource),
    });
  }
  return result;
}

/** A node id's type name and primary key values. */
export function decodeNodeId(id: string): { typeName: string; key: unknown[] } {
  const [typeName, ...key] = JSON.parse(Buffer.from(id, 'base64').toString('utf8')) as [string, ...unknown[]];
  return { typeName, key };
}

export interface RootConnection {
  field: GraphQLField<unknown, unknown>;
  nodeType: GraphQLObjectType;
}

const connectionNodeType = (type: unknown): GraphQLObjectType | undefined => {
  const named = getNamedType(type as never);
  if (!isObjectType(named) || !named.name.endsWith('Connection')) return undefined;
  const nodes = named.getFields().nodes;
  const node = nodes && getNamedType(nodes.type);
  return isObjectType(node) ? node : undefined;
};

export const isNodeType = (type: GraphQLObjectType) => type.getInterfaces().some((i) => i.name === 'Node');

/** Root query fields that return a connection of objects. */
export function rootConnections(schema: GraphQLSchema): RootConnection[] {
  return Object.values(schema.getQueryType()!.getFields()).flatMap((field) => {
    const nodeType = connectionNodeType(field.type);
    return nodeType ? [{ field, nodeType }] : [];
  });
}

/** The smallest selection that makes a field of this type reach the database. */
export function minimalSelection(type: Parameters<typeof getNamedType>[0]): string {
  const named = getNamedType(type);
  if (!isObjectType(named)) return '';
  const nodes = named.getFields().nodes;
  if (nodes) return isObjectType(getNamedType(nodes.type)) ? '{ nodes { __typename } }' : '{ nodes }';
  return '{ __typename }';
}

/** Fields of a type that are plain values (scalars and enums) without required arguments. */
export function scalarFields(type: GraphQLObjectType): string[] {
  return Object.values(type.getFields())
    .filter((f) => {
      const named = getNamedType(f.type);
      return (isScalarType(named) || isEnumType(named)) && !f.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined);
    })
    .map((f) => f.name);
}

/** The relation-like fields of a type: single nodes and connections, reachable without required arguments. */
export function relationFields(type: GraphQLObjectType): Array<{ name: string; kind: 'node' | 'connection' }> {
  return Object.values(type.getFields()).flatMap((f): Array<{ name: string; kind: 'node' | 'connection' }> => {
    if (f.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) return [];
    const named = getNamedType(f.type);
    if (connectionNodeType(f.type) && isNodeType(connectionNodeType(f.type)!)) return [{ name: f.name, kind: 'connection' }];
    if (isObjectType(named) && isNodeType(named) && !isListType(isNonNullType(f.type) ? f.type.ofType : f.type)) {
      return [{ name: f.name, kind: 'node' }];
    }
    return [];
  });
}

/** Values for every required argument of a field. */
export function sampleArgs(field: GraphQLField<unknown, unknown>, samples: SampleValues): Record<string, unknown> {
  const { names } = requiredArgs(field);
  return Object.fromEntries(field.args.filter((a) => names.includes(a.name)).map((a) => [a.name, sampleInput(a.type, samples, a.name)]));
}

/** `mutation($a: T!) { r: name(a: $a) { … } }` for a field, with its required arguments as variables. */
export function operationFor(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>, selection: string): string {
  const { declarations, uses } = requiredArgs(field);
  return `${kind}${declarations ? `(${declarations})` : ''} { r: ${field.name}${uses ? `(${uses})` : ''} ${selection} }`;
}

/** Required arguments of a field as `name: Type` declarations and `name: $name` uses. */
export function requiredArgs(field: GraphQLField<unknown, unknown>): { declarations: string; uses: string; names: string[] } {
  const args = field.args.filter((a) => isNonNullType(a.type) && a.defaultValue === undefined);
  return {
    declarations: args.map((a) => `$${a.name}: ${String(a.type)}`).join(', '),
    uses: args.map((a) => `${a.name}: $${a.name}`).join(', '),
    names: args.map((a) => a.name),
  };
}

export interface SampleValues {
  /** A UUID to use wherever one is required (e.g. another tenant's row). */
  uuid: string;
  /** A better UUID for a named field or argument (e.g. a real campaign for `campaignId`). */
  uuidFor?: (name: string) => string | undefined;
  /** A node id to use for ID arguments. */
  nodeId?: string;
  string?: string;
}

/** A value of an input type that passes GraphQL validation (required parts only). */
export function sampleInput(type: GraphQLInputType, samples: SampleValues, name = ''): unknown {
  if (isNonNullType(type)) return sampleInput(type.ofType, samples, name);
  if (isListType(type)) return [sampleInput(type.ofType as GraphQLInputType, samples, name)];
  if (isEnumType(type)) return type.getValues()[0]!.value ?? type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    const value: Record<string, unknown> = {};
    for (const f of fields) {
      if (isNonNullType(f.type) && f.defaultValue === undefined) value[f.name] = sampleInput(f.type, samples, f.name);
    }
    // Nothing required (a patch): one plain field, so the input is not empty.
    if (fields.length && !Object.keys(value).length) {
      const plain = fields.find((f) => ['String', 'Boolean', 'Int'].includes(getNamedType(f.type).name)) ?? fields[0]!;
      value[plain.name] = sampleInput(plain.type, samples, plain.name);
    }
    return value;
  }
  switch (type.name) {
    case 'Int':
      return 1;
    case 'Float':
      return 1.5;
    case 'Boolean':
      return true;
    case 'ID':
      return samples.nodeId ?? 'WyJOb3RoaW5nIiwxXQ==';
    case 'UUID':
      return samples.uuidFor?.(name) ?? samples.uuid;
    case 'Datetime':
      return '2030-01-01T10:00:00Z';
    case 'Date':
      return '2030-01-01';
    case 'Time':
      return '10:00:00';
    case 'JSON':
      return {};
    case 'BigInt':
    case 'BigFloat':
      return '1';
    case 'EmailAddress':
      return 'probe@probe.example';
    case 'Hostname':
      return 'probe.example.com';
    case 'InternetAddress':
      return '203.0.113.99';
    default:
      return samples.string ?? 'probe value';
  }
}


/** The first page of node ids of every table type a token can list (tenant-owned types only, unless `all`). */
export async function listNodes(
  t: TestApi,
  schema: GraphQLSchema,
  tables: Map<string, TableType>,
  token: string,
  { all = false }: { all?: boolean } = {},
): Promise<Map<string, string[]>> {
  const byType = new Map<string, string[]>();
  for (const rc of rootConnections(schema)) {
    const table = tables.get(rc.nodeType.name);
    if (!table || (!all && !table.tenantOwned) || rc.field.name !== table.allRowsField) continue;
    const result = await t.gql(`{ c: ${rc.field.name}(first: 100) { nodes { id } } }`, {}, token);
    if (result.data?.c) byType.set(rc.nodeType.name, result.data.c.nodes.map((n: { id: string }) => n.id));
  }
  return byType;
}

/** A `uuidFor` that names real rows: `campaignId` → a campaign's id, `userId` → the given user… */
export function realUuids(nodes: Map<string, string[]>, fixed: Record<string, string>): (name: string) => string | undefined {
  return (name) => {
    if (fixed[name]) return fixed[name];
    const typeName = name.replace(/Id$/, '').replace(/^./, (c) => c.toUpperCase());
    const id = nodes.get(typeName)?.[0];
    const key = id ? decodeNodeId(id).key[0] : undefined;
    return typeof key === 'string' ? key : undefined;
  };
}
