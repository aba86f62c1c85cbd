/**
 * GET /exports/<export id>: download an organisation export
 * (requestTenantExport; functions/287-tenant-export.sql) or a CSV export
 * (requestCsvExport; functions/288-data-exports.sql).
 *
 *   curl -fo export.tar.gz "$API/exports/<rowId>" -H "Authorization: Bearer $TOKEN"
 *
 * The database decides (app_hidden.tenant_export_download, as the caller):
 * for an organisation export an owner or admin of the export's organisation
 * (or its owner while it is closed), for a CSV export a member and above,
 * signed in; never an API key (403). Another organisation's export, or none:
 * 404. Expired: 410. Queued, running or failed: 409 with its state. The
 * download is counted and written to the organisation's audit log, then the
 * file streams from disk (application/gzip or text/csv; charset=utf-8) with
 * its SHA-256 in `Repr-Digest`.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import type { ApiKeyResolver } from '../auth/api-keys.ts';
import type { TokenService } from '../auth/jwt.ts';
import { currentScope } from '../log/scope.ts';
import { pgSettingsForClaims } from '../server/context.ts';
import { classifyDatabaseError, type ErrorCode } from '../server/errors.ts';
import { authenticateOrReply, sendError, type Route } from '../server/http.ts';
import { recordStaffOperation } from '../server/staff-audit.ts';
import { withUserSession } from '../server/user-session.ts';
import { exportFilePath } from './tenant-archive.ts';

export interface TenantExportRouteOptions {
  /** The authenticator's pool: the download is authorised as the caller. */
  pool: pg.Pool;
  /** The owner's pool: a staff member's download is audited in a transaction of its own (src/server/staff-audit.ts). */
  ownerPool: pg.Pool;
  tokens: TokenService;
  /** Resolves `Bearer pm_…` API keys, so a key gets its own refusal (403) rather than an invalid token (401). */
  apiKeys?: ApiKeyResolver;
  dataDir: string;
  statementTimeoutMs: number;
}

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  INVALID_INPUT: 400,
  CONFLICT: 409,
  GONE: 410,
  TIMEOUT: 503,
  UNAVAILABLE: 503,
  TWO_FACTOR_ENROLMENT_REQUIRED: 403,
  EMAIL_VERIFICATION_REQUIRED: 403,
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function tenantExportRoutes(options: TenantExportRouteOptions): Route[] {
  return [{ method: 'GET', path: '/exports/', handler: (req, res, url) => downloadExport(req, res, url, options) }];
}

interface Download {
  tenant_id: string;
  id: string;
  kind: 'tenant' | 'leads' | 'suppressions' | 'campaign_results';
  format: 'tar.gz' | 'csv';
  byte_size: string;
  sha256: string;
  /** The day it was requested (UTC), for the file name. */
  day: string;
}

async function downloadExport(req: IncomingMessage, res: ServerResponse, url: URL, options: TenantExportRouteOptions): Promise<void> {
  const claims = await authenticateOrReply(req, res, options);
  if (claims === undefined) return;
  if (!claims) return sendError(res, 401, 'UNAUTHENTICATED', 'Sign in first: send your session token as "Authorization: Bearer <token>".');
  const exportId = decodeURIComponent(url.pathname.slice('/exports/'.length));
  if (!UUID.test(exportId)) return sendError(res, 404, 'NOT_FOUND', 'No export at this address: use /exports/<rowId of a tenantExport>.');

  const settings = { ...pgSettingsForClaims(claims, options.statementTimeoutMs), 'app.request_id': currentScope()?.requestId ?? '' };
  let download: Download | undefined;
  try {
    await recordStaffOperation(options.ownerPool, settings, () => ({ type: 'http', name: 'GET /exports/<id>', fields: [] }));
    [download] = await withUserSession(options.pool, settings, async (client) =>
      (await client.query<Download>(`select d.tenant_id, d.id, d.kind, d.format, d.byte_size, d.sha256, to_char(d.created at time zone 'UTC', 'YYYY-MM-DD') as day
         from app_hidden.tenant_export_download($1) d`, [exportId])).rows);
  } catch (error) {
    if ((error as { code?: string }).code === 'EXPRD') return sendError(res, 410, 'GONE', (error as Error).message);
    const classified = classifyDatabaseError(error as Error);
    if (!classified) throw error;
    return sendError(res, HTTP_STATUS[classified.code] ?? 400, classified.code, classified.message);
  }
  if (!download) return sendError(res, 404, 'NOT_FOUND', 'No export with that id in an organisation where you may download it.');

  const file = exportFilePath(options.dataDir, download.tenant_id, download.id, download.format);
  const size = await stat(file).then((s) => s.size, () => null);
  if (size === null) return sendError(res, 410, 'GONE', 'The file of this export is no longer kept; request a new export.');
  res.writeHead(200, {
    'content-type': download.format === 'csv' ? 'text/csv; charset=utf-8; header=present' : 'application/gzip',
    'content-length': String(size),
    'content-disposition': `attachment; filename="${fileName(download)}"`,
    'repr-digest': `sha-256=:${Buffer.from(download.sha256, 'hex').toString('base64')}:`,
    'cache-control': 'no-store',
  });
  await pipeline(createReadStream(file), res);
}

/** penguinmails-export-<day>-<id>.tar.gz, or penguinmails-<kind with dashes>-<day>-<id>.csv. */
function fileName(download: Download): string {
  if (download.format === 'tar.gz') return `penguinmails-export-${download.day}-${download.id}.tar.gz`;
  return `penguinmails-${download.kind.replace('_', '-')}-${download.day}-${download.id}.csv`;
}
