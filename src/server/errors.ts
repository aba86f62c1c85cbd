/**
 * Turns every error into a clear GraphQL error with a stable code and no
 * stack trace. Database errors are classified by SQLSTATE; messages raised by
 * our own SQL functions are written for users and pass through; anything
 * unexpected is logged with a reference and answered with INTERNAL.
 */
import { createHash, randomBytes } from 'node:crypto';
import { GraphQLError, type GraphQLFormattedError } from 'postgraphile/graphql';
import { isSafeError } from 'postgraphile/grafast';
import { errorFields, loggerFor } from '../log/logger.ts';
import { currentScope } from '../log/scope.ts';
import { graphqlErrors } from '../metrics/registry.ts';

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'INVALID_TOKEN'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'INVALID_INPUT'
  | 'ALREADY_EXISTS'
  | 'PLAN_LIMIT_REACHED'
  | 'PLAN_FEATURE_REQUIRED'
  | 'INVALID_CREDENTIALS'
  | 'ACCOUNT_LOCKED'
  | 'TWO_FACTOR_REQUIRED'
  | 'TWO_FACTOR_ENROLMENT_REQUIRED'
  | 'EMAIL_VERIFICATION_REQUIRED'
  | 'WEAK_PASSWORD'
  | 'TOKEN_EXPIRED'
  | 'CONFLICT'
  | 'GONE'
  | 'TIMEOUT'
  | 'UNAVAILABLE'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RATE_LIMITED'
  | 'API_KEY_REVOKED'
  | 'API_KEY_EXPIRED'
  | 'API_ACCESS_NOT_IN_PLAN'
  | 'QUERY_TOO_COMPLEX'
  | 'QUERY_TOO_COSTLY'
  | 'GRAPHQL_PARSE_FAILED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'INTROSPECTION_DISABLED'
  | 'METHOD_NOT_ALLOWED'
  | 'NOT_ACCEPTABLE'
  | 'INTERNAL';

/** SQLSTATEs raised by our SQL functions (see functions/050-auth.sql). */
const OWN_CODES: Record<string, ErrorCode> = {
  CREDS: 'INVALID_CREDENTIALS',
  LOCKD: 'ACCOUNT_LOCKED',
  WEAKP: 'WEAK_PASSWORD',
  TAKEN: 'ALREADY_EXISTS',
  EXPRD: 'TOKEN_EXPIRED',
  DNIED: 'FORBIDDEN',
  NTFND: 'NOT_FOUND',
  INVAL: 'INVALID_INPUT',
  LIMIT: 'PLAN_LIMIT_REACHED',
  PLANF: 'PLAN_FEATURE_REQUIRED',
  STATE: 'CONFLICT',
  SESSN: 'UNAUTHENTICATED',
  TFENR: 'TWO_FACTOR_ENROLMENT_REQUIRED',
  EMVER: 'EMAIL_VERIFICATION_REQUIRED',
};

/** Friendlier words for constraints users commonly trip over. */
const CONSTRAINT_MESSAGES: Record<string, string> = {
  email_address_format: 'That is not a valid email address.',
  hostname_format: 'That is not a valid domain name (like mail.example.com).',
  leads_email_key: 'A lead with this email already exists.',
  domains_domain_key: 'This domain has already been added.',
  email_accounts_email_key: 'An inbox with this email address already exists.',
  users_email_key: 'An account with this email already exists.',
  contact_lists_name_key: 'A list with this name already exists.',
  templates_name_key: 'A template with this name already exists.',
  campaign_sequence_steps_order_key: 'This campaign already has a step at that position.',
  campaign_enrollments_lead_key: 'This lead is already enrolled in the campaign.',
  email_accounts_provider_daily_cap: 'A Google Workspace inbox can send at most 2,000 messages a day (Google\'s per-mailbox limit): lower dailyLimit.',
  email_accounts_daily_limit_check: 'dailyLimit must be between 0 and 10,000 messages a day.',
  email_accounts_smtp_settings_shape: 'SMTP settings must be an object without passwords; set the password with setEmailAccountCredentials.',
  email_accounts_imap_settings_shape: 'IMAP settings must be an object without passwords; set the password with setEmailAccountCredentials.',
  campaigns_send_window_check: 'The sending window must end after it starts.',
  contact_lists_dynamic_has_filter: 'A dynamic list needs filterCriteria, and a static list must not have one.',
  campaign_targets_one_target: 'A campaign target is either a contact list or a lead, not both.',
  campaign_step_variants_differs_check: 'An A/B variant needs its own subject, its own body (bodyHtml), or both.',
  campaign_step_variants_body_text_check: 'An A/B variant\'s bodyText goes with a bodyHtml of its own (at most 500,000 characters).',
  campaign_step_variants_body_html_check: 'An A/B variant\'s bodyHtml must be 1 to 500,000 characters long.',
  campaign_sequence_steps_ab_min_sends_check: 'abMinSendsPerVariant must be between 10 and 100,000 messages.',
  campaign_sequence_steps_ab_decide_after_check: 'abDecideAfter must be between 1 hour and 90 days.',
  campaign_sequence_steps_ab_winner_metric_check: 'abWinnerMetric must be reply, click or open.',
  lead_imports_tenant_id_contact_list_id_fkey: 'That contact list does not exist in your organisation.',
  tenant_config_safety_bounce_rate_bounds: 'The bounce rate that pauses campaigns must be between 0.01 and 0.10 (1% to 10%).',
  tenant_config_safety_complaint_rate_bounds: 'The complaint rate that pauses campaigns must be between 0.0005 and 0.003 (0.05% to 0.3%).',
  tenant_config_safety_min_sample_bounds: 'The minimum sample of the safety rates must be between 20 and 10000 messages.',
  tenant_config_safety_window_days_bounds: 'The safety window must be between 1 and 30 days.',
};

interface PgError extends Error {
  code?: string;
  constraint?: string;
  table?: string;
  column?: string;
  detail?: string;
  hint?: string;
}

export interface ClassifiedError {
  code: ErrorCode;
  message: string;
}

function humanise(identifier: string | undefined): string {
  return (identifier ?? 'record').replace(/_/g, ' ');
}

/** Classifies a PostgreSQL error; null when it is not one. */
const UNAVAILABLE: ClassifiedError = { code: 'UNAVAILABLE', message: 'The database is not reachable right now; try again shortly.' };

/**
 * On Citus, a shard's error names the shard (`leads_102124`,
 * `leads_email_key_102124`) and carries no constraint or table field: the
 * names are those of the table and constraint, recovered from the message.
 */
function unshard(error: PgError): PgError {
  const message = error.message.replace(/"(\w+?)_\d{6,}"/g, '"$1"');
  if (message === error.message) return error;
  return {
    name: error.name,
    message,
    code: error.code,
    detail: error.detail?.replace(/\b(\w+?)_\d{6,}\b/g, '$1'),
    hint: error.hint,
    column: error.column,
    constraint: error.constraint?.replace(/_\d{6,}$/, '') ?? message.match(/constraint "(\w+)"/)?.[1],
    table: error.table?.replace(/_\d{6,}$/, '') ?? message.match(/(?:relation|table) "(\w+)"/)?.[1],
  };
}

export function classifyDatabaseError(raw: PgError): ClassifiedError | null {
  const error = unshard(raw);
  const sqlstate = error.code;
  // The database itself is down or unreachable (socket errors, or class 08 / shutdown).
  if (sqlstate && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(sqlstate)) return UNAVAILABLE;
  if (/^Connection terminated/.test(error.message)) return UNAVAILABLE;
  if (!sqlstate || !/^[0-9A-Z]{5}$/.test(sqlstate)) return null;
  if (sqlstate.startsWith('08') || ['57P01', '57P02', '57P03'].includes(sqlstate)) return UNAVAILABLE;
  const own = OWN_CODES[sqlstate];
  if (own) return { code: own, message: error.message };
  // On Citus, a row written without a tenant (the request names none the
  // user belongs to) is refused before RLS could refuse it.
  if (/^cannot perform an INSERT with NULL in the partition column/.test(error.message)) {
    return { code: 'FORBIDDEN', message: 'You are not acting in an organisation you belong to, so you cannot write here.' };
  }
  const known = error.constraint ? CONSTRAINT_MESSAGES[error.constraint] : undefined;
  switch (sqlstate) {
    case '42501':
      return {
        code: 'FORBIDDEN',
        message: /row-level security/.test(error.message)
          ? `Your role in this organisation does not allow you to write ${humanise(error.message.match(/table "([^"]+)"/)?.[1])}.`
          : /permission denied/.test(error.message)
            ? // (Unquoted names here: a Citus shard's name loses its number too.)
              `You do not have permission to do this (${error.message.replace(/^permission denied for /, '').replace(/(\w)_\d{6,}\b/g, '$1')}).`
            : error.message,
      };
    case '23505':
      return { code: 'ALREADY_EXISTS', message: known ?? `This ${humanise(error.table)} already exists (${error.constraint}).` };
    case '23503':
      return {
        code: 'NOT_FOUND',
        message: /is still referenced/.test(error.detail ?? '')
          ? `This ${humanise(error.table)} is still in use and cannot be removed.`
          : (known ?? `A referenced record does not exist in your organisation (${error.constraint}).`),
      };
    case '23514':
      return { code: 'INVALID_INPUT', message: known ?? `Invalid value: it breaks the rule "${error.constraint}" on ${humanise(error.table)}.` };
    case '23502':
      return { code: 'INVALID_INPUT', message: `${humanise(error.column)} is required.` };
    case '22001':
      return { code: 'INVALID_INPUT', message: 'A value is too long.' };
    case '22P02':
    case '22007':
    case '22008':
    case '22003':
    case '22023':
    case '22P05':
    case '2201X':
    case '2201W':
      return { code: 'INVALID_INPUT', message: known ?? error.message };
    case '23P01':
      return { code: 'CONFLICT', message: known ?? `This conflicts with an existing ${humanise(error.table)}.` };
    case '40001':
    case '40P01':
      return { code: 'CONFLICT', message: 'The request conflicted with a concurrent change; retry it.' };
    case '57014':
      return { code: 'TIMEOUT', message: 'The request took too long and was cancelled.' };
    case 'P0001':
      return { code: 'INVALID_INPUT', message: error.message };
    case 'P0002':
      return { code: 'NOT_FOUND', message: error.message };
    default:
      return null;
  }
}

/** What an anonymous caller is refused is refused because nobody signed in: say so. */
export const SIGN_IN_FIRST: ClassifiedError = {
  code: 'UNAUTHENTICATED',
  message: 'Sign in first: this needs a signed-in user; send your session token as "Authorization: Bearer <token>".',
};

const shortHash = (text: string) => createHash('sha1').update(text).digest('base64url').slice(0, 10);

const log = loggerFor('graphql');

/** grafserv's maskError: every error leaves with extensions.code (counted in penguinmails_graphql_errors_total). */
export function maskError(error: GraphQLError): GraphQLError | GraphQLFormattedError {
  let masked = mask(error);
  // A grant or RLS refusing an anonymous caller: the fix is to sign in. Refusals our SQL functions (DNIED)
  // and plugins (SafeError) word themselves, e.g. login into an organisation you do not belong to, stay as they are.
  const own = (error.originalError as { code?: unknown } | undefined)?.code === 'DNIED' || (error.originalError !== undefined && isSafeError(error.originalError));
  if ((masked.extensions as { code?: unknown } | undefined)?.code === 'FORBIDDEN' && !own && currentScope()?.anonymous) {
    masked = new GraphQLError(SIGN_IN_FIRST.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, extensions: { code: SIGN_IN_FIRST.code } });
  }
  graphqlErrors.inc({ code: String((masked.extensions as { code?: unknown } | undefined)?.code ?? 'INTERNAL') });
  return masked;
}

function mask(error: GraphQLError): GraphQLError | GraphQLFormattedError {
  const base = { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path };
  const original = error.originalError as (PgError & { extensions?: Record<string, unknown> }) | undefined;
  if (!original) {
    // Validation and parse errors, "Cannot return null…": already safe.
    return new GraphQLError(error.message, { ...base, extensions: { code: error.extensions?.code ?? 'INVALID_INPUT', ...error.extensions } });
  }
  if (original instanceof GraphQLError) {
    // A scalar refusing a variable: the outer message says which variable and field ("… at "lead.value"; …").
    const message = error.message.includes(original.message) && /^Variable "\$/.test(error.message) ? error.message : original.message;
    return new GraphQLError(message, { ...base, extensions: { code: 'INVALID_INPUT', ...original.extensions } });
  }
  if (isSafeError(original)) {
    return new GraphQLError(original.message, { ...base, extensions: { code: 'INVALID_INPUT', ...(original.extensions ?? {}) } });
  }
  const classified = classifyDatabaseError(original);
  if (classified) {
    return new GraphQLError(classified.message, { ...base, extensions: { code: classified.code } });
  }
  const reference = randomBytes(5).toString('hex');
  log.error({ reference, fingerprint: shortHash(String(original)), ...errorFields(original) }, 'unexpected error');
  return new GraphQLError(`An unexpected error occurred (reference ${reference}).`, { ...base, extensions: { code: 'INTERNAL', reference } });
}
