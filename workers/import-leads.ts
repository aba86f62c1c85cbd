/**
 * import_leads: loads an uploaded CSV into leads, or into the suppression
 * list for an import whose target is suppressions (queued by the lead_imports
 * insert trigger). The file streams into a staging table with COPY and SQL
 * does the rest in one transaction (functions/071-lead-import.sql): either
 * every valid row is in, with its list membership and the import's counts,
 * or nothing is and the import is failed with the reason.
 *
 * Failures the user can act on (the plan's contact limit, a file that is not
 * CSV, a mapping that names no email column, a member who lost access) fail
 * the import at once. Anything else is retried by graphile-worker, and fails
 * the import on the last attempt.
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { importFilePath } from '../src/import/files.ts';
import { ImportFileError, loadCsvIntoStaging } from '../src/import/load-staging.ts';
import { MappingError } from '../src/import/mapping.ts';
import type { TaskDeps } from '../src/worker/context.ts';

const Payload = z.object({ tenant_id: z.uuid(), import_id: z.uuid() });

/** SQLSTATEs our SQL raises for problems the user can fix (see docs/CONVENTIONS.md). */
const USER_SQLSTATES = new Set(['LIMIT', 'DNIED', 'INVAL', 'NTFND', 'STATE']);

/** The message to fail the import with, when the error is one the user can act on. */
function userFacingReason(error: unknown): string | null {
  if (error instanceof ImportFileError || error instanceof MappingError) return error.message;
  const e = error as { code?: string; message?: string };
  if (e.code && USER_SQLSTATES.has(e.code)) return e.message ?? null;
  if (e.code === 'ENOENT') return 'The uploaded file is no longer there; upload it again.';
  if (e.code === '22021') return 'The file is not UTF-8 text; save it as "CSV UTF-8" and upload it again.';
  return null;
}

interface ImportRow {
  column_mapping: Record<string, string> | null;
  keep_unmapped: boolean;
  /** leads, or suppressions: the file fills the suppression list (functions/288-data-exports.sql). */
  target: 'leads' | 'suppressions';
}

export function importLeads(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const { tenant_id: tenantId, import_id: importId } = Payload.parse(rawPayload);
    const file = importFilePath(deps.env.PM_DATA_DIR, tenantId, importId);
    const { rows: started } = await helpers.query<{ id: string | null }>(
      'select (app_private.start_lead_import($1, $2)).id',
      [tenantId, importId],
    );
    if (!started[0]?.id) {
      helpers.logger.info(`lead import ${importId} is already finished`);
      return;
    }
    const fail = async (reason: string) => {
      await helpers.query('select app_private.fail_lead_import($1, $2, $3)', [tenantId, importId, reason]);
      await rm(file, { force: true });
    };

    try {
      await helpers.withPgClient(async (client) => {
        await client.query('begin');
        try {
          const { rows } = await client.query<ImportRow>('select * from app_private.prepare_lead_import($1, $2)', [tenantId, importId]);
          const suppressions = rows[0]?.target === 'suppressions';
          const { rows: fields } = await client.query<{ fields: string[] }>(
            suppressions ? 'select app_hidden.suppression_import_fields() as fields' : 'select app_hidden.lead_import_fields() as fields');
          const { rows: keys } = suppressions ? { rows: [] } : await client.query<{ key: string }>(
            'select key from app_public.custom_field_definitions where tenant_id = $1',
            [tenantId],
          );
          const { plan } = await loadCsvIntoStaging(client, createReadStream(file), {
            mapping: rows[0]?.column_mapping ?? undefined,
            keepUnmapped: rows[0]?.keep_unmapped ?? false,
            importableFields: fields[0]!.fields,
            customFieldKeys: keys.map((k) => k.key),
            ...(suppressions ? { requireOneOf: fields[0]!.fields } : {}),
            onProgress: (read) => helpers.query('select app_private.report_lead_import_progress($1, $2, $3)', [tenantId, importId, read]),
          });
          await client.query('select app_private.record_lead_import_columns($1, $2, $3)', [tenantId, importId, plan.unmapped]);
          await client.query(suppressions ? 'select app_private.complete_suppression_import($1, $2)' : 'select app_private.complete_lead_import($1, $2)',
            [tenantId, importId]);
          await client.query('commit');
        } catch (error) {
          await client.query('rollback');
          throw error;
        }
      });
      await rm(file, { force: true });
    } catch (error) {
      const reason = userFacingReason(error);
      if (reason) {
        await fail(reason);
        return;
      }
      const reference = randomBytes(5).toString('hex');
      helpers.logger.error(`lead import ${importId} failed (reference ${reference}, attempt ${helpers.job.attempts}/${helpers.job.max_attempts}): ${String(error)}`);
      if (helpers.job.attempts >= helpers.job.max_attempts) {
        await fail(`The import could not be completed because of an internal error (reference ${reference}). Upload the file again, or contact support with the reference.`);
        return;
      }
      throw error;
    }
  };
}
