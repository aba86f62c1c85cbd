/**
 * `totalCount` on every aggregates type (`aggregates { totalCount }`,
 * `groupedAggregates { keys totalCount }`): the number of rows in the group,
 * or across the connection, as PostgreSQL's `count(*)`.
 *
 * pg-aggregates offers only `distinctCount`, so a client counting the rows
 * of each group had to ask for `distinctCount { rowId }`: `count(distinct
 * id)`, which PostgreSQL answers by sorting every id of every group first
 * (docs/performance.md, figure 2). A row's key is unique, so the two counts
 * are equal; `totalCount` gets there without the sort. It is an `Int` like the
 * connection's own `totalCount` (docs/api.md, "Types of keys and numbers").
 */
import 'graphile-config';
import 'postgraphile';
import { TYPES, type PgSelectSingleStep } from 'postgraphile/@dataplan/pg';

export const AggregateCountsPlugin: GraphileConfig.Plugin = {
  name: 'AggregateCountsPlugin',
  description: 'Adds totalCount (count(*)) to the aggregates and grouped aggregates of every connection.',
  version: '1.0.0',
  after: ['PgAggregatesAddAggregateTypesPlugin'],
  schema: {
    hooks: {
      GraphQLObjectType_fields(fields, build, context) {
        if (!context.scope.isPgAggregateContainerType) return fields;
        const { GraphQLNonNull, GraphQLInt } = build.graphql;
        const { sql } = build;
        return build.extend(
          fields,
          {
            totalCount: context.fieldWithHooks({ fieldName: 'totalCount' }, {
              description: build.wrapDescription('The number of rows in this group (across the whole connection for `aggregates`), ignoring before/after/first/last/offset.', 'field'),
              type: new GraphQLNonNull(GraphQLInt),
              plan($row: PgSelectSingleStep) {
                return $row.select(sql`count(*)`, TYPES.bigint);
              },
            }),
          },
          `Adding totalCount to ${context.Self.name}`,
        );
      },
    },
  },
};
