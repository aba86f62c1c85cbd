/**
 * The PostGraphile preset: Amber, simplified names, aggregates, filters, and
 * our plugins (plugins/). The API connects as the authenticator; each request
 * runs as the role and tenant of its token.
 */
import { PgAggregatesPreset } from '@graphile/pg-aggregates';
import { PgSimplifyInflectionPreset } from '@graphile/simplify-inflection';
import type pg from 'pg';
import { makePgService } from 'postgraphile/adaptors/pg';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { PostGraphileConnectionFilterPreset } from 'postgraphile-plugin-connection-filter';
import { makePageSizePlugin } from '../../plugins/page-size.ts';
import { makeQueryDepthPlugin } from '../../plugins/query-depth.ts';
import { makeSessionMutationsPlugin } from '../../plugins/session-mutations.ts';
import { TenantScopedKeysPlugin } from '../../plugins/tenant-scoped-keys.ts';
import type { TokenService } from '../auth/jwt.ts';
import { pgSettingsFor } from './context.ts';
import { maskError } from './errors.ts';

export interface PresetOptions {
  pool: pg.Pool;
  tokens: TokenService;
  production: boolean;
  graphiql: boolean;
  introspection: boolean;
  maxPageSize: number;
  maxQueryDepth: number;
  maxBodyBytes: number;
  statementTimeoutMs: number;
}

export function makePreset(options: PresetOptions): GraphileConfig.Preset {
  return {
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset, PgAggregatesPreset, PostGraphileConnectionFilterPreset],
    plugins: [
      TenantScopedKeysPlugin,
      makeSessionMutationsPlugin(options.tokens),
      makePageSizePlugin({ defaultPageSize: Math.min(50, options.maxPageSize), maxPageSize: options.maxPageSize }),
      makeQueryDepthPlugin(options.maxQueryDepth),
    ],
    disablePlugins: ['PgJWTPlugin'],
    pgServices: [makePgService({ pool: options.pool, schemas: ['app_public'] })],
    schema: {
      retryOnInitFail: false,
      pgForbidSetofFunctionsToReturnNull: true,
      connectionFilterAllowNullInput: false,
      connectionFilterAllowEmptyObjectInput: false,
      connectionFilterRelations: false,
      connectionFilterComputedColumns: false,
      connectionFilterSetofFunctions: false,
      connectionFilterArrays: false,
    },
    grafast: {
      explain: false,
      async context(requestContext) {
        const req = requestContext.node?.req;
        if (!req) return {};
        return {
          pgSettings: await pgSettingsFor(req, { tokens: options.tokens, statementTimeoutMs: options.statementTimeoutMs }),
        };
      },
    },
    grafserv: {
      graphqlPath: '/graphql',
      graphiql: options.graphiql,
      graphiqlOnGraphQLGET: false,
      graphiqlPath: '/graphiql',
      maxRequestLength: options.maxBodyBytes,
      watch: false,
      maskError,
    },
  };
}
