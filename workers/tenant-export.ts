/**
 * Tenant exports (functions/287-tenant-export.sql, docs/privacy.md).
 *
 * tenant_export: writes the organisation's archive (src/privacy/tenant-archive.ts).
 * Every table of app_private.tenant_export_tables() is read with COPY in one
 * read-only REPEATABLE READ transaction, so the files are one consistent
 * snapshot, and streamed to disk; progress (tables and rows written) is
 * recorded on the export row from another connection as it goes.
 *
 * A CSV export (kind leads, suppressions or campaign_results;
 * functions/288-data-exports.sql) is one COPY … (format csv, header) of
 * app_private.csv_export_<kind>() in such a snapshot, its row count
 * (rows_total) read first in the same snapshot (src/privacy/csv-export.ts).
 *
 * tenant_export_sweep (hourly): exports past expires_at expire, running
 * exports without progress for an hour fail, and every export file no live
 * export keeps is deleted.
 */
import { randomBytes } from 'node:crypto';
import type { JobHelpers, Task } from 'graphile-worker';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { z } from 'zod';
import { discardCsvExport, writeCsvExport } from '../src/privacy/csv-export.ts';
import { openArchive, removeUnkeptExportFiles, type ArchiveWriter } from '../src/privacy/tenant-archive.ts';
import type { TaskDeps } from '../src/worker/context.ts';

const Payload = z.object({ tenant_id: z.uuid(), export_id: z.uuid() });

/** How often the rows written so far are recorded while a table is streamed. */
const PROGRESS_INTERVAL_MS = 5_000;

export function tenantExport(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const { tenant_id: tenantId, export_id: exportId } = Payload.parse(rawPayload);
    const { rows: [found] } = await helpers.query<{ kind: string; campaign_id: string | null }>(
      'select kind, campaign_id from app_public.tenant_exports where tenant_id = $1 and id = $2',
      [tenantId, exportId],
    );
    if (!found) {
      helpers.logger.info(`tenant export ${exportId} no longer exists`);
      return;
    }
    if (found.kind !== 'tenant') return csvExport(deps, helpers, tenantId, exportId, found.kind, found.campaign_id);
    const { rows: tables } = await helpers.query<{ table_name: string; key_column: string }>(
      'select table_name, key_column from app_private.tenant_export_tables()',
    );
    const { rows: started } = await helpers.query<{ started: boolean }>(
      'select app_private.start_tenant_export($1, $2, $3) as started',
      [tenantId, exportId, tables.length],
    );
    if (!started[0]?.started) {
      helpers.logger.info(`tenant export ${exportId} is no longer queued or running`);
      return;
    }

    let archive: ArchiveWriter | undefined;
    let rowsWritten = 0;
    let tablesDone = 0;
    let tableRows = 0;
    let reported = '';
    const report = async () => {
      const now = `${tablesDone}/${rowsWritten + tableRows}`;
      if (now === reported) return;
      reported = now;
      await helpers.query('select app_private.tenant_export_progress($1, $2, $3, $4)', [tenantId, exportId, tablesDone, rowsWritten + tableRows]);
    };
    const timer = setInterval(() => void report().catch(() => undefined), PROGRESS_INTERVAL_MS);
    try {
      archive = await openArchive(deps.env.PM_DATA_DIR, tenantId, exportId);
      const writer = archive;
      const exportedAt = await helpers.withPgClient(async (client: pg.PoolClient) => {
        await client.query('begin isolation level repeatable read read only');
        try {
          const { rows } = await client.query<{ at: Date }>('select now() as at');
          for (const { table_name: table, key_column: key } of tables) {
            const statement = `copy (select to_jsonb(x)::text from app_public.${client.escapeIdentifier(table)} x ` +
              `where x.${client.escapeIdentifier(key)} = ${client.escapeLiteral(tenantId)}) to stdout`;
            tableRows = 0;
            const entry = await writer.addTable(table, client.query(copyTo(statement)), (n) => (tableRows = n));
            rowsWritten += entry.rows;
            tableRows = 0;
            tablesDone += 1;
            await report();
          }
          await client.query('commit');
          return rows[0]!.at;
        } catch (error) {
          await client.query('rollback').catch(() => undefined);
          throw error;
        }
      });
      const result = await writer.finish({ tenantId, exportId, exportedAt: exportedAt.toISOString() });
      const { rows: finished } = await helpers.query<{ id: string | null }>(
        'select (app_private.finish_tenant_export($1, $2, $3, $4, $5)).id',
        [tenantId, exportId, rowsWritten, result.bytes, result.sha256],
      );
      if (!finished[0]?.id) await archive.discard(); // the sweep failed it meanwhile
      helpers.logger.info(`tenant export ${exportId}: ${tables.length} tables, ${rowsWritten} rows, ${result.bytes} bytes`);
    } catch (error) {
      await archive?.discard();
      const reference = randomBytes(5).toString('hex');
      helpers.logger.error(`tenant export ${exportId} failed (reference ${reference}, attempt ${helpers.job.attempts}/${helpers.job.max_attempts}): ${String(error)}`);
      if (helpers.job.attempts < helpers.job.max_attempts) throw error;
      await helpers.query('select app_private.fail_tenant_export($1, $2, $3)', [
        tenantId,
        exportId,
        `The export could not be written because of an internal error (reference ${reference}). Request a new one, or contact support with the reference.`,
      ]);
    } finally {
      clearInterval(timer);
    }
  };
}

/** The rows of each CSV export kind (functions/288-data-exports.sql), the tenant and campaign as $1 and $2. */
const CSV_ROWS: Record<string, string> = {
  leads: 'app_private.csv_export_leads($1)',
  suppressions: 'app_private.csv_export_suppressions($1)',
  campaign_results: 'app_private.csv_export_campaign_results($1, $2)',
};

async function csvExport(
  deps: TaskDeps, helpers: JobHelpers, tenantId: string, exportId: string, kind: string, campaignId: string | null,
): Promise<void> {
  const source = CSV_ROWS[kind];
  if (!source) throw new Error(`unknown export kind ${kind}`);
  let rowsWritten = 0;
  let reported = -1;
  const report = async () => {
    if (rowsWritten === reported) return;
    reported = rowsWritten;
    await helpers.query('select app_private.tenant_export_progress($1, $2, 0, $3)', [tenantId, exportId, rowsWritten]);
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await helpers.withPgClient(async (client: pg.PoolClient) => {
      await client.query('begin isolation level repeatable read read only');
      try {
        // Times in the file are ISO 8601 in UTC.
        await client.query(`set local timezone = 'UTC'`);
        await client.query(`set local datestyle = 'ISO, YMD'`);
        const { rows: [count] } = await client.query<{ total: string }>(
          'select app_private.csv_export_total($1, $2, $3) as total', [tenantId, kind, campaignId]);
        const { rows: started } = await helpers.query<{ started: boolean }>(
          'select app_private.start_tenant_export($1, $2, 1, $3) as started', [tenantId, exportId, count!.total]);
        if (!started[0]?.started) {
          await client.query('rollback');
          return null;
        }
        timer = setInterval(() => void report().catch(() => undefined), PROGRESS_INTERVAL_MS);
        const query = source.replace('$1', client.escapeLiteral(tenantId)).replace('$2', campaignId ? client.escapeLiteral(campaignId) : 'null');
        const file = await writeCsvExport(deps.env.PM_DATA_DIR, tenantId, exportId,
          client.query(copyTo(`copy (select * from ${query}) to stdout with (format csv, header true, encoding 'UTF8')`)),
          (rows) => (rowsWritten = rows));
        await client.query('commit');
        return file;
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      }
    });
    if (!result) {
      helpers.logger.info(`tenant export ${exportId} is no longer queued or running`);
      return;
    }
    clearInterval(timer);
    const { rows: finished } = await helpers.query<{ id: string | null }>(
      'select (app_private.finish_tenant_export($1, $2, $3, $4, $5)).id',
      [tenantId, exportId, result.rows, result.bytes, result.sha256],
    );
    if (!finished[0]?.id) await discardCsvExport(deps.env.PM_DATA_DIR, tenantId, exportId); // the sweep failed it meanwhile
    helpers.logger.info(`${kind} export ${exportId}: ${result.rows} rows, ${result.bytes} bytes`);
  } catch (error) {
    await discardCsvExport(deps.env.PM_DATA_DIR, tenantId, exportId);
    const reference = randomBytes(5).toString('hex');
    helpers.logger.error(`${kind} export ${exportId} failed (reference ${reference}, attempt ${helpers.job.attempts}/${helpers.job.max_attempts}): ${String(error)}`);
    if (helpers.job.attempts < helpers.job.max_attempts) throw error;
    await helpers.query('select app_private.fail_tenant_export($1, $2, $3)', [
      tenantId,
      exportId,
      `The export could not be written because of an internal error (reference ${reference}). Request a new one, or contact support with the reference.`,
    ]);
  } finally {
    clearInterval(timer);
  }
}

export function tenantExportSweep(deps: TaskDeps): Task {
  return async (_payload, helpers) => {
    const { rows: expired } = await helpers.query<{ id: string }>('select id from app_private.expire_tenant_exports()');
    const removed = await removeUnkeptExportFiles(deps.env.PM_DATA_DIR, async () =>
      (await helpers.query<{ tenant_id: string; id: string }>('select tenant_id, id from app_private.tenant_export_files_kept()')).rows,
    );
    helpers.logger.info(`tenant exports: ${expired.length} expired, ${removed.length} files deleted`);
  };
}
