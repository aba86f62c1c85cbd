/**
 * The shape of the API, as rules rather than per-table tags:
 *
 * - Filtering, ordering and grouping only on indexed columns. Amber already
 *   does this for ordinary tables; partitioned tables (messages, events) are
 *   skipped by it, so their indexes are checked here the same way.
 * - A JSONB column with a GIN index can be filtered with `contains` (`@>`,
 *   which the index serves), e.g. leads' custom fields.
 * - Full-text documents (tsvector) are not filterable: use searchLeads.
 * - No filtering across relations and no ordering/filtering by related
 *   aggregates: those are unindexed subqueries that multiply the schema.
 * - Relations through tenant_id are left out (the tenant is the token's:
 *   use currentTenant), and a User does not list the rows it created,
 *   updated or owns (filter those tables on createdBy… instead).
 * - A row is read by its global id through `node(id:)` alone: the
 *   per-type `xById(id:)` twins of the `x(rowId:)` lookups are removed (the
 *   update and delete twins by global id are off in the preset's behaviors).
 * - citext columns (emails) compare as citext: `equalTo` is case-insensitive,
 *   as the column is, and uses its index.
 *
 * Which operators exist at all is set in the preset
 * (connectionFilterAllowedOperators).
 */
import 'graphile-config';
import 'postgraphile';
import { TYPES, type PgCodec } from 'postgraphile/@dataplan/pg';

interface ShapeExtensions {
  isIndexed?: boolean;
  containmentIndexed?: boolean;
}

/** What a User lists under itself: their memberships and their own settings. */
const USER_RELATIONS = new Set(['tenant_users', 'user_preferences', 'staff_members']);

/** Behavior strings added here (some are registered by plugins whose types do not list them). */
const behaviors = (...list: string[]) => list as GraphileBuild.BehaviorString[];

const ext = (attribute: { extensions?: unknown }): ShapeExtensions => (attribute.extensions ??= {}) as ShapeExtensions;

/** The codec under any domains. */
const baseCodec = (codec: PgCodec): PgCodec => (codec.domainOfCodec ? baseCodec(codec.domainOfCodec) : codec);

export const ApiShapePlugin: GraphileConfig.Plugin = {
  name: 'ApiShapePlugin',
  description: 'Filtering, ordering and grouping only where an index serves them.',
  version: '1.0.0',
  after: ['PgIndexBehaviorsPlugin', 'PgConnectionArgFilterOperatorsPlugin'],
  gather: {
    hooks: {
      pgCodecs_attribute(_info, event) {
        const { attribute, pgAttribute } = event;
        const table = pgAttribute.getClass();
        if (!table) return;
        const indexes = table.getIndexes().filter((idx) => !idx.indpred);
        const covering = indexes.filter((idx) => idx.getKeys().some((k) => k?.attname === pgAttribute.attname));
        if (table.relkind === 'p' && covering.length === 0) ext(attribute).isIndexed = false;
        if (covering.some((idx) => idx.getIndexClass()?.getAccessMethod()?.amname === 'gin')) ext(attribute).containmentIndexed = true;
      },
    },
  },
  schema: {
    entityBehavior: {
      pgCodecAttribute: {
        inferred: {
          after: ['inferred', 'postInferred'],
          provides: ['apiShape'],
          callback(behavior, [codec, attributeName]) {
            const attribute = codec.attributes[attributeName]!;
            const type = baseCodec(attribute.codec);
            if (type === TYPES.tsvector) return [behavior, ...behaviors('-attribute:filterBy', '-attribute:orderBy', '-attribute:groupBy')];
            if (type === TYPES.jsonb && ext(attribute).containmentIndexed) return [behavior, ...behaviors('attribute:filterBy')];
            return behavior;
          },
        },
      },
      pgCodecRelation: {
        inferred: {
          after: ['inferred', 'postInferred'],
          provides: ['apiShape'],
          callback(behavior, relation) {
            const remoteTable = relation.remoteResource.codec.extensions?.pg?.name;
            const localTable = relation.localCodec.extensions?.pg?.name;
            // The tenant is the token's (currentTenant): no `lead.tenant`, no `tenant.leads`.
            const throughTenant = relation.isReferencee
              ? localTable === 'tenants' && relation.remoteAttributes.join() === 'tenant_id'
              : relation.localAttributes.join() === 'tenant_id';
            // A user is not a container: rows a user created, updated or owns are
            // found from their table (condition/filter on createdBy…), not under User.
            const underUser = relation.isReferencee && localTable === 'users' && !USER_RELATIONS.has(remoteTable ?? '');
            if (throughTenant || underUser) return [behavior, ...behaviors('-*')];
            return [behavior, ...behaviors('-filterBy', '-manyRelation:aggregates:orderBy')];
          },
        },
      },
    },
    hooks: {
      GraphQLObjectType_fields(fields, build, context) {
        if (!context.scope.isRootQuery || !build.getNodeTypeNames) return fields;
        for (const typeName of build.getNodeTypeNames()) delete fields[build.inflection.nodeById(typeName)];
        return fields;
      },
      build(build) {
        // Compare citext as citext (the connection filter casts it to text).
        (build as { pgAggregatesForceTextTypesSensitive?: PgCodec[] }).pgAggregatesForceTextTypesSensitive = [TYPES.char, TYPES.bpchar];
        return build;
      },
    },
  },
};
