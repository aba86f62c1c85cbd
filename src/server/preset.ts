/**
 * The PostGraphile preset: Amber, simplified names, aggregates, filters, and
 * our plugins (plugins/). The API connects as the authenticator; each request
 * runs as the role and tenant of its token.
 */
import { PgAggregatesPreset } from '@graphile/pg-aggregates';
import { PgSimplifyInflectionPreset } from '@graphile/simplify-inflection';
import type pg from 'pg';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { PostGraphileConnectionFilterPreset } from 'postgraphile-plugin-connection-filter';
import { ApiShapePlugin } from '../../plugins/api-shape.ts';
import { MutationGuardsPlugin } from '../../plugins/mutation-guards.ts';
import { makePageSizePlugin } from '../../plugins/page-size.ts';
import { makeQueryDepthPlugin } from '../../plugins/query-depth.ts';
import { BehaviorMatchCachePlugin } from '../../plugins/behavior-match-cache.ts';
import { makeQueryCostPlugin, type QueryCostOptions } from '../../plugins/query-cost.ts';
import { ReauthenticationPlugin } from '../../plugins/reauthentication.ts';
import { makeSessionMutationsPlugin } from '../../plugins/session-mutations.ts';
import { makeTwoFactorPlugin } from '../../plugins/two-factor.ts';
import { isAccountSetupOperation } from '../auth/account-setup.ts';
import { TenantScopedKeysPlugin } from '../../plugins/tenant-scoped-keys.ts';
import { TenantPredicatePlugin } from '../../plugins/tenant-predicate.ts';
import { RowArgumentsPlugin } from '../../plugins/row-arguments.ts';
import { TenantSingletonsPlugin } from '../../plugins/tenant-singletons.ts';
import { ResultTypeNamesPlugin } from '../../plugins/result-type-names.ts';
// Loaded for its effect on PostGraphile's date and time codecs (see there).
import '../../plugins/date-output.ts';
import { makeValidationCodesPlugin, withoutSuggestions } from '../../plugins/validation-codes.ts';
import { HttpErrorCodesPlugin } from '../../plugins/http-error-codes.ts';
import { NaturalOrderPlugin } from '../../plugins/natural-order.ts';
import { OperationNamePlugin } from '../../plugins/operation-name.ts';
import { makeEmailAccountCredentialsPlugin } from '../../plugins/email-account-credentials.ts';
import { makeInboxOAuthPlugin } from '../../plugins/inbox-oauth.ts';
import type { OAuthConfig } from '../oauth/providers.ts';
import { makeWebhookSubscriptionsPlugin } from '../../plugins/webhook-subscriptions.ts';
import { makeMessagePreviewPlugin } from '../../plugins/message-preview.ts';
import { makeOutboundHostsPlugin } from '../../plugins/outbound-hosts.ts';
import { InputSafetyPlugin } from '../../plugins/input-safety.ts';
import { CheckEnumsPlugin } from '../../plugins/check-enums.ts';
import { KeyAndCountTypesPlugin } from '../../plugins/key-and-count-types.ts';
import { AggregateCountsPlugin } from '../../plugins/aggregate-counts.ts';
import { makeOutboundGuard } from '../net/outbound-guard.ts';
import { resolveSendingApiOptions, type SendingApiOptions } from '../sending/deps.ts';
import type { TokenService } from '../auth/jwt.ts';
import type { ApiKeyResolver } from '../auth/api-keys.ts';
import { pgSettingsFor, type PgSettings } from './context.ts';
import { makeRequestPgService } from './pg-service.ts';
import { maskError } from './errors.ts';
import { clientIp } from '../tracking/request.ts';
import { GraphQLError, type GraphQLFormattedError } from 'postgraphile/graphql';
import { currentScope } from '../log/scope.ts';
import { describeOperation, recordStaffOperation } from './staff-audit.ts';

/**
 * Filter operators an index can serve (btree equality and ranges, GIN
 * containment for JSONB); pattern matching and the like are left out.
 */
export const FILTER_OPERATORS = [
  'isNull', 'equalTo', 'notEqualTo', 'distinctFrom', 'notDistinctFrom', 'in', 'notIn',
  'lessThan', 'lessThanOrEqualTo', 'greaterThan', 'greaterThanOrEqualTo', 'contains',
];

export interface PresetOptions {
  pool: pg.Pool;
  tokens: TokenService;
  /** Resolves `Bearer pm_…` API keys (src/auth/api-keys.ts). */
  apiKeys?: ApiKeyResolver;
  graphiql: boolean;
  introspection: boolean;
  maxPageSize: number;
  maxQueryDepth: number;
  /** MAX_QUERY_COST (default 1,000,000). */
  maxQueryCost?: number;
  /** Charges extra requests to a client's request budget (auth operations count once per alias). */
  chargeExtra?: QueryCostOptions['chargeExtra'];
  maxBodyBytes: number;
  statementTimeoutMs: number;
  /** Secrets key and tracking base URL for setEmailAccountCredentials and previewMessage (sendingApiOptionsOf(env)). */
  sending: SendingApiOptions;
  /** TRUST_PROXY: take the client address from X-Forwarded-For (only behind your own reverse proxy). */
  trustProxy?: boolean;
  /** The API's owner connections, for the writes that run apart from the request's transaction (setEmailAccountCredentials). */
  ownerPool?: pg.Pool;
  /** OUTBOUND_ALLOW_PRIVATE: private ranges an inbox's SMTP/IMAP host may be set to (default none). */
  outboundAllowPrivate?: readonly string[];
  /** Webhook URLs may be plain http (NODE_ENV test or development); default false: https only. */
  webhooksAllowHttp?: boolean;
  /** Google and Microsoft OAuth clients for startInboxOAuth (oauthConfigOf(env)); unset: no provider can be connected. */
  oauth?: OAuthConfig;
}

function withoutSuggestionsIn(error: GraphQLError | GraphQLFormattedError): GraphQLError | GraphQLFormattedError {
  const message = withoutSuggestions(error.message);
  if (message === error.message) return error;
  return error instanceof GraphQLError
    ? new GraphQLError(message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: error.originalError, extensions: error.extensions })
    : { ...error, message };
}

export function makePreset(options: PresetOptions): GraphileConfig.Preset {
  const sending = resolveSendingApiOptions(options.sending);
  return {
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset, PgAggregatesPreset, PostGraphileConnectionFilterPreset],
    plugins: [
      BehaviorMatchCachePlugin,
      TenantScopedKeysPlugin,
      TenantPredicatePlugin,
      RowArgumentsPlugin,
      CheckEnumsPlugin,
      KeyAndCountTypesPlugin,
      AggregateCountsPlugin,
      ApiShapePlugin,
      NaturalOrderPlugin,
      MutationGuardsPlugin,
      TenantSingletonsPlugin,
      ResultTypeNamesPlugin,
      makeSessionMutationsPlugin(options.tokens),
      ReauthenticationPlugin,
      makeTwoFactorPlugin(options.tokens, sending.secretBox),
      makePageSizePlugin({ defaultPageSize: Math.min(50, options.maxPageSize), maxPageSize: options.maxPageSize }),
      makeQueryDepthPlugin(options.maxQueryDepth),
      makeQueryCostPlugin({ maxCost: options.maxQueryCost ?? 1_000_000, maxPageSize: options.maxPageSize, chargeExtra: options.chargeExtra }),
      makeValidationCodesPlugin({ introspection: options.introspection }),
      InputSafetyPlugin,
      HttpErrorCodesPlugin,
      OperationNamePlugin,
      makeEmailAccountCredentialsPlugin(sending.secretBox, options.ownerPool),
      makeInboxOAuthPlugin(sending.secretBox, options.oauth, options.ownerPool),
      makeMessagePreviewPlugin({ tracking: sending.tracking, publicUrl: sending.publicUrl }),
      makeOutboundHostsPlugin(makeOutboundGuard({ allowPrivate: options.outboundAllowPrivate ?? [] })),
      makeWebhookSubscriptionsPlugin({
        secretBox: sending.secretBox,
        guard: makeOutboundGuard({ allowPrivate: options.outboundAllowPrivate ?? [] }),
        allowHttp: options.webhooksAllowHttp ?? false,
        ownerPool: options.ownerPool,
      }),
    ],
    disablePlugins: ['PgJWTPlugin'],
    pgServices: [makeRequestPgService(options.pool, ['app_public'])],
    schema: {
      retryOnInitFail: false,
      pgForbidSetofFunctionsToReturnNull: true,
      connectionFilterAllowNullInput: false,
      connectionFilterAllowEmptyObjectInput: false,
      connectionFilterRelations: false,
      connectionFilterComputedColumns: false,
      connectionFilterSetofFunctions: true,
      connectionFilterArrays: false,
      connectionFilterAllowedOperators: FILTER_OPERATORS,
      // Ordering or filtering by a related table's aggregates is an unindexed
      // subquery per row: not offered. Grouped aggregates come without
      // `having`, and aggregates without the statistical variances: less
      // schema, nothing a dashboard needs.
      defaultBehavior: [
        // Updates and deletes take rowId; no twins by global id (reads by
        // global id: node(id:), see plugins/api-shape.ts).
        '-nodeId:resource:update',
        '-nodeId:resource:delete',
        '-aggregates:orderBy',
        '-aggregates:filterBy',
        '-resource:groupedAggregates:having',
        ...['stddevSample', 'stddevPopulation', 'varianceSample', 'variancePopulation'].map((spec) => `-${spec}:resource:aggregates`),
      ].join(' '),
    },
    grafast: {
      explain: false,
      async context(requestContext, args) {
        const req = requestContext.node?.req;
        if (!req) return {};
        const pgSettings: PgSettings = {
          ...(await pgSettingsFor(req, { tokens: options.tokens, apiKeys: options.apiKeys, statementTimeoutMs: options.statementTimeoutMs })),
          // Jobs queued by this request carry its id (functions/260-job-request-ids.sql).
          'app.request_id': currentScope()?.requestId ?? '',
          // Only sets up what an organisation's policy requires (two-factor authentication, a confirmed email):
          // allowed there, with no tenant role (src/auth/account-setup.ts).
          ...(isAccountSetupOperation(args.document, args.operationName) ? { 'app.account_setup': 'on' } : {}),
        };
        // A staff member inside a tenant: the operation is audited before it runs.
        await recordStaffOperation(options.ownerPool, pgSettings, () => describeOperation(args.schema, args.document, args.operationName));
        return {
          pgSettings,
          currentTenantId: pgSettings['app.current_tenant_id'] || null, // plugins/tenant-predicate.ts
          requestOrigin: `http://${req.headers.host ?? 'localhost'}`, // previewMessage's tracking base when PUBLIC_URL is unset
          clientIp: clientIp(req, options.trustProxy ?? false), // sign-in lockouts and reset throttles are per client address
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
      // Without introspection, no error may suggest schema names either (variable coercion errors come through here).
      maskError: options.introspection ? maskError : (error) => withoutSuggestionsIn(maskError(error)),
    },
  };
}
