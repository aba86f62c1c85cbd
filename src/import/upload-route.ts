/**
 * POST /imports/leads: upload a CSV of leads.
 * POST /imports/suppressions: upload a CSV of email addresses and/or domains
 * for the suppression list (columns "email" and/or "domain", or a mapping to
 * them; no listId, updateExisting or keepUnmapped).
 *
 *   curl -X POST "$API/imports/leads?fileName=leads.csv&listId=<uuid>&updateExisting=true" \
 *     -H "Authorization: Bearer $TOKEN" -H "Content-Type: text/csv" --data-binary @leads.csv
 *
 * Query parameters: fileName (required), listId (a static list to add the
 * leads to), updateExisting (true: fill in existing leads' fields), mapping
 * (JSON: {"CSV column": "lead field or custom.<key>"}).
 *
 * The body streams to disk (at most IMPORT_MAX_BYTES); then the lead_imports
 * row is inserted as the caller, so RLS and roles decide (viewers and
 * removed members are refused), and its insert trigger queues the worker
 * job. Answers 202 with the import; its progress is the leadImport query.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { TokenService } from '../auth/jwt.ts';
import type { ApiKeyResolver } from '../auth/api-keys.ts';
import { pgSettingsForClaims } from '../server/context.ts';
import { classifyDatabaseError, type ErrorCode } from '../server/errors.ts';
import { authenticateOrReply, sendError, sendJson, type Route } from '../server/http.ts';
import { withUserSession } from '../server/user-session.ts';
import { recordStaffOperation } from '../server/staff-audit.ts';
import { currentScope } from '../log/scope.ts';
import { importFilePath, storeUpload, UploadTooLargeError } from './files.ts';
import { enumValueName } from '../../plugins/check-enums.ts';
import type pg from 'pg';

export interface LeadImportRouteOptions {
  /** The authenticator's pool: the row is inserted as the caller. */
  pool: pg.Pool;
  /** The owner's pool: a staff member's upload is audited in a transaction of its own (src/server/staff-audit.ts). */
  ownerPool: pg.Pool;
  tokens: TokenService;
  /** Resolves `Bearer pm_…` API keys (the server's apiKeys); without it keys are refused here. */
  apiKeys?: ApiKeyResolver;
  dataDir: string;
  maxBytes: number;
  statementTimeoutMs: number;
}

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  INVALID_INPUT: 400,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  PLAN_LIMIT_REACHED: 402,
  TIMEOUT: 503,
  // The organisation's policy requires what the account lacks (functions/001-request-context.sql).
  TWO_FACTOR_ENROLMENT_REQUIRED: 403,
  EMAIL_VERIFICATION_REQUIRED: 403,
};

const jsonObject = z.string().transform((text, ctx) => {
  try {
    const value: unknown = JSON.parse(text);
    const parsed = z.record(z.string(), z.string()).safeParse(value);
    if (parsed.success && Object.entries(parsed.data).some(([k, v]) => k.includes('\u0000') || v.includes('\u0000'))) {
      ctx.addIssue({ code: 'custom', message: 'cannot contain the NUL character (\\u0000)' });
      return z.NEVER;
    }
    if (parsed.success) return parsed.data;
  } catch {
    // reported below
  }
  ctx.addIssue({ code: 'custom', message: 'must be a JSON object of CSV column names to lead field names, e.g. {"E-mail":"email","Sector":"custom.industry"}' });
  return z.NEVER;
});

const Params = z.object({
  fileName: z
    .string()
    .trim()
    .min(1, 'is required: the name of the uploaded file')
    .max(255, 'is at most 255 characters')
    .regex(/^[^\u0000-\u001f\u007f]*$/, 'cannot contain control characters (NUL, line breaks, tabs)'),
  listId: z.uuid('must be the rowId of one of your static contact lists').optional(),
  updateExisting: z.enum(['true', 'false'], 'must be true or false').default('false').transform((v) => v === 'true'),
  mapping: jsonObject.optional(),
  keepUnmapped: z.enum(['true', 'false'], 'must be true or false').default('false').transform((v) => v === 'true'),
});

export function leadImportRoutes(options: LeadImportRouteOptions): Route[] {
  return [
    { method: 'POST', path: '/imports/leads', handler: (req, res, url) => uploadLeads(req, res, url, options, 'leads') },
    { method: 'POST', path: '/imports/suppressions', handler: (req, res, url) => uploadLeads(req, res, url, options, 'suppressions') },
  ];
}

/** What an uploaded file fills (lead_imports.target). */
type ImportTarget = 'leads' | 'suppressions';

/** The options of a lead import that a suppression import does not take. */
const LEAD_ONLY_PARAMS = ['listId', 'updateExisting', 'keepUnmapped'];

async function uploadLeads(req: IncomingMessage, res: ServerResponse, url: URL, options: LeadImportRouteOptions, target: ImportTarget): Promise<void> {
  const claims = await authenticateOrReply(req, res, options);
  if (claims === undefined) return;
  const refuse = (status: number, code: ErrorCode, message: string) => {
    req.resume();
    sendError(res, status, code, message);
  };
  if (!claims) return refuse(401, 'UNAUTHENTICATED', 'Sign in first: send your session token as "Authorization: Bearer <token>".');

  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'text/csv') {
    return refuse(415, 'UNSUPPORTED_MEDIA_TYPE', `Send the file as the raw request body with "Content-Type: text/csv" (got "${contentType || 'none'}").`);
  }
  const leadOnly = target === 'suppressions' ? LEAD_ONLY_PARAMS.filter((p) => url.searchParams.has(p)) : [];
  if (leadOnly.length) {
    return refuse(400, 'INVALID_INPUT', `Invalid query parameters: ${leadOnly.join(', ')} ${leadOnly.length > 1 ? 'are' : 'is'} for lead imports only; a suppression list import takes fileName and mapping.`);
  }
  const params = Params.safeParse(Object.fromEntries(url.searchParams));
  if (!params.success) {
    const problems = params.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ');
    return refuse(400, 'INVALID_INPUT', `Invalid query parameters: ${problems}.`);
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > options.maxBytes) {
    return refuse(413, 'PAYLOAD_TOO_LARGE', `The file is ${declared} bytes; the limit is ${options.maxBytes} bytes (IMPORT_MAX_BYTES).`);
  }

  const settings = { ...pgSettingsForClaims(claims, options.statementTimeoutMs), 'app.request_id': currentScope()?.requestId ?? '' };
  // Refuse early, before reading a large body, when the caller may not import at all.
  let access: { tenant_id: string | null; may_import: boolean; key_may_import: boolean } | undefined;
  try {
    await recordStaffOperation(options.ownerPool, settings, () => ({ type: 'http', name: `POST /imports/${target}`, fields: [] }));
    [access] = await withUserSession(options.pool, settings, async (client) =>
      (await client.query<{ tenant_id: string | null; may_import: boolean; key_may_import: boolean }>(
        `select app_public.current_tenant_id() as tenant_id, app_public.has_tenant_role('member') as may_import,
                app_hidden.api_key_allows('leads', 'write') as key_may_import`,
      )).rows,
    );
  } catch (error) {
    // An ended session (functions/051-sessions.sql), the database unavailable.
    const classified = classifyDatabaseError(error as Error);
    if (!classified) throw error;
    return refuse(HTTP_STATUS[classified.code] ?? 400, classified.code, classified.message);
  }
  if (!access?.tenant_id) return refuse(403, 'FORBIDDEN', 'Your token does not name an organisation you belong to.');
  if (!access.may_import) return refuse(403, 'FORBIDDEN', `Viewers cannot import ${target === 'leads' ? 'leads' : 'a suppression list'}; ask an owner or admin for the member role.`);
  if (!access.key_may_import) return refuse(403, 'FORBIDDEN', 'This API key does not have the leads:write scope.');

  let upload;
  try {
    upload = await storeUpload(req, options.dataDir, options.maxBytes);
  } catch (error) {
    if (error instanceof UploadTooLargeError) {
      sendError(res, 413, 'PAYLOAD_TOO_LARGE', `The file is larger than the limit of ${error.limit} bytes (IMPORT_MAX_BYTES).`, { connection: 'close' });
      req.destroy();
      return;
    }
    throw error;
  }

  const { fileName, listId, updateExisting, mapping, keepUnmapped } = params.data;
  try {
    const leadImport = await withUserSession(options.pool, settings, async (client) => {
      const { rows } = await client.query(
        `insert into app_public.lead_imports (file_name, byte_size, contact_list_id, column_mapping, update_existing, keep_unmapped, target)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning id, tenant_id, status, file_name, byte_size, contact_list_id, column_mapping, update_existing, keep_unmapped, target, created`,
        [fileName, upload.bytes, listId ?? null, mapping ? JSON.stringify(mapping) : null, updateExisting, keepUnmapped, target],
      );
      const row = rows[0];
      await upload.moveTo(importFilePath(options.dataDir, row.tenant_id, row.id));
      return row;
    });
    sendJson(res, 202, {
      leadImport: {
        rowId: leadImport.id,
        status: enumValueName(leadImport.status, 'status'), // as the LeadImportStatus enum of the leadImport query
        fileName: leadImport.file_name,
        byteSize: Number(leadImport.byte_size),
        contactListId: leadImport.contact_list_id,
        columnMapping: leadImport.column_mapping,
        updateExisting: leadImport.update_existing,
        keepUnmapped: leadImport.keep_unmapped,
        target: enumValueName(leadImport.target, 'target'),
        created: leadImport.created,
      },
      progress: `query { leadImport(rowId: "${leadImport.id}") { status totalRows importedRows updatedRows skippedRows unmappedColumns errors failureReason } }`,
    });
  } catch (error) {
    await upload.discard();
    const classified = classifyDatabaseError(error as Error);
    if (!classified) throw error;
    sendError(res, HTTP_STATUS[classified.code] ?? 400, classified.code, classified.message);
  }
}
