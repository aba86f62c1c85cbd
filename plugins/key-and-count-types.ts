/**
 * One type for keys and one for counts, as a client can use them directly
 * (the rules are in docs/api.md, "Types of keys and numbers"):
 *
 * - Keys are strings in JSON: `UUID`, or `BigInt` for integer keys. A key
 *   column names one row by itself, the tenant aside: the column of a
 *   primary key `(tenant_id, id)` or `(id)`, or of a foreign key to one (a
 *   unique column such as a position stays what it is). An `integer` key
 *   (permissions, staff roles) is exposed as `BigInt` like the `bigint`
 *   ones, so every integer key has one type and may widen without an API
 *   change. Keys are not numbers to add up: no aggregates over them.
 * - Every other `bigint` a field returns (counters, daily and lifetime
 *   figures, usage, byte sizes, IMAP UIDs) is a JSON number: `Float`, exact
 *   for every integer up to 2^53, where GraphQL's `Int` (32-bit) would fail
 *   past 2,147,483,647. Inputs keep `BigInt` (a string; in variables also a number).
 * - `distinctCount` is an `Int`, like the `totalCount` of the same
 *   connection it cannot exceed. Sums and averages keep PostgreSQL's
 *   `numeric` (`BigFloat`, a string): a sum has no bound.
 * - A delete payload names the deleted row's key: `deleted<Type>RowId`
 *   (beside the global `deleted<Type>Id`).
 */
import 'graphile-config';
import 'postgraphile';
import { TYPES, type PgCodec, type PgResource } from 'postgraphile/@dataplan/pg';
import type { ExecutableStep } from 'postgraphile/grafast';
import type { GraphQLOutputType } from 'postgraphile/graphql';
import type { PgAttribute } from 'pg-introspection';

/** Aggregates that treat a value as a quantity (all but distinctCount): meaningless over keys. */
const NOT_FOR_KEYS = ['sum', 'min', 'max', 'average', 'stddevSample', 'stddevPopulation', 'varianceSample', 'variancePopulation']
  .map((spec) => `-${spec}:attribute:aggregate` as GraphileBuild.BehaviorString);

const INTEGER_TYPES = new Set(['int2', 'int4']);

/** The primary and foreign keys of its table this column is part of. */
function keysOf(pgAttribute: PgAttribute) {
  const constraints = pgAttribute.getClass()?.getConstraints() ?? [];
  return constraints.filter((c) => ['p', 'f'].includes(c.contype) && c.conkey?.includes(pgAttribute.attnum));
}

/** A key naming one row by itself (the tenant aside): `id`, or a foreign key to one. */
function isRowKey(pgAttribute: PgAttribute): boolean {
  const tenantAttnum = pgAttribute.getClass()?.getAttributes().find((a) => a.attname === 'tenant_id')?.attnum;
  return keysOf(pgAttribute).some((c) => c.conkey!.filter((n) => n !== tenantAttnum).length === 1);
}

interface KeyExtensions {
  isKey?: boolean;
}

const isKeyAttribute = (codec: PgCodec, attributeName: string): boolean =>
  !!(codec.attributes?.[attributeName]?.extensions as KeyExtensions | undefined)?.isKey;

/** The row key a client passes as `rowId`: the primary key without the token's tenant. */
function rowKeyOf(resource: PgResource): string | undefined {
  const primary = resource.uniques?.find((u) => u.isPrimary);
  const attributes = primary?.attributes.filter((a) => a !== 'tenant_id') ?? [];
  return attributes.length === 1 ? attributes[0] : undefined;
}

export const KeyAndCountTypesPlugin: GraphileConfig.Plugin = {
  name: 'KeyAndCountTypesPlugin',
  description: 'Keys are UUID or BigInt strings, counts are JSON numbers, delete payloads return the deleted rowId.',
  version: '1.0.0',
  after: ['PgMutationUpdateDeletePlugin', 'PgAggregatesSpecsPlugin'],
  inflection: {
    add: {
      deletedRowIdField(_options, resource: PgResource) {
        return this.camelCase(`deleted-${this._singularizedResourceName(resource)}-row-id`);
      },
    },
  },
  gather: {
    hooks: {
      pgCodecs_attribute(_info, event) {
        const { attribute, pgAttribute } = event;
        if (!isRowKey(pgAttribute)) return;
        ((attribute.extensions ??= {}) as KeyExtensions).isKey = true;
        const typname = pgAttribute.getType()?.typname;
        if (typname && INTEGER_TYPES.has(typname) && attribute.codec === (typname === 'int4' ? TYPES.int : TYPES.int2)) {
          attribute.codec = TYPES.bigint;
        }
      },
    },
  },
  schema: {
    entityBehavior: {
      pgCodecAttribute: {
        inferred: {
          after: ['inferred'],
          provides: ['keyAndCountTypes'],
          callback(behavior, [codec, attributeName]) {
            return isKeyAttribute(codec, attributeName) ? [behavior, ...NOT_FOR_KEYS] : behavior;
          },
        },
      },
    },
    hooks: {
      GraphQLObjectType_fields(fields, build, context) {
        const { isPgDeletePayloadType, pgTypeResource } = context.scope as { isPgDeletePayloadType?: boolean; pgTypeResource?: PgResource };
        if (!isPgDeletePayloadType || !pgTypeResource) return fields;
        const key = rowKeyOf(pgTypeResource);
        const type = key ? build.getGraphQLTypeByPgCodec(pgTypeResource.codec.attributes![key]!.codec, 'output') : undefined;
        if (!key || !type) return fields;
        const fieldName = build.inflection.deletedRowIdField(pgTypeResource);
        return build.extend(fields, {
          [fieldName]: context.fieldWithHooks({ fieldName, isDeletedRowIdField: true } as { fieldName: string }, {
            description: build.wrapDescription(`The \`rowId\` of the row this mutation deleted.`, 'field'),
            type: type as GraphQLOutputType,
            plan($object: ExecutableStep & { getStepForKey(key: string): ExecutableStep & { get(attr: string): ExecutableStep } }) {
              return $object.getStepForKey('result').get(key);
            },
          }),
        }, `Adding ${fieldName} to ${context.Self.name}`);
      },
      GraphQLObjectType_fields_field(field, build, context) {
        const { getNamedType, GraphQLNonNull, GraphQLList, GraphQLFloat, GraphQLInt, isNonNullType, isListType } = build.graphql;
        if (getNamedType(field.type).name !== build.inflection.builtin('BigInt')) return field;
        const scope = context.scope as {
          pgFieldAttribute?: { extensions?: KeyExtensions };
          isDeletedRowIdField?: boolean;
          isPgAggregateType?: boolean;
          pgAggregateSpec?: { id: string };
        };
        if (scope.pgFieldAttribute?.extensions?.isKey || scope.isDeletedRowIdField) return field;
        const to = scope.isPgAggregateType && scope.pgAggregateSpec?.id === 'distinctCount' ? GraphQLInt : GraphQLFloat;
        const rewrap = (type: GraphQLOutputType): GraphQLOutputType =>
          isNonNullType(type) ? new GraphQLNonNull(rewrap(type.ofType)) : isListType(type) ? new GraphQLList(rewrap(type.ofType)) : to;
        return { ...field, type: rewrap(field.type) };
      },
    },
  },
};

declare global {
  namespace GraphileBuild {
    interface Inflection {
      deletedRowIdField(this: Inflection, resource: PgResource): string;
    }
  }
}
