/**
 * Streams a CSV file into the import's staging table with COPY: csv-parse
 * reads it record by record (with backpressure), each record is placed into
 * the staging columns its header maps to, and the rows are written to
 * `COPY pg_temp.lead_import_rows … FROM STDIN` in batches. Memory stays flat
 * whatever the file size; validation happens afterwards, in SQL.
 */
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { CsvError, parse } from 'csv-parse';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { planColumns, type ColumnPlan } from './mapping.ts';

/** A problem with the file itself: the import fails with this message. */
export class ImportFileError extends Error {
  override name = 'ImportFileError';
}

export interface LoadOptions {
  mapping?: Record<string, string>;
  importableFields: string[];
  customFieldKeys: string[];
  /** The file must fill one of these fields (mapping.ts); default: email. */
  requireOneOf?: string[];
  /** Keep columns nothing claims as custom fields (mapping.ts); default: drop them. */
  keepUnmapped?: boolean;
  /** Called every `progressEvery` rows with the number of rows read so far. */
  onProgress?: (rows: number) => Promise<unknown>;
  progressEvery?: number;
}

const BATCH_BYTES = 256 * 1024;

/** A value as a COPY CSV field: NULL is an empty unquoted field, anything else is quoted. */
function csvField(value: string | null): string {
  return value === null ? '' : `"${value.replaceAll('"', '""')}"`;
}

/** Trimmed, NUL-free, and null when empty. */
function clean(value: string | undefined): string | null {
  const v = value?.replaceAll('\u0000', '').trim();
  return v ? v : null;
}

function stagingLine(line: number, record: string[], plan: ColumnPlan): string {
  const fields = new Map<string, string | null>();
  const custom: Record<string, string> = {};
  plan.targets.forEach((target, i) => {
    if (!target) return;
    const value = clean(record[i]);
    if (target.kind === 'field') fields.set(target.field, value);
    else if (value !== null) custom[target.key] = value;
  });
  return [String(line), ...plan.fields.map((f) => csvField(fields.get(f) ?? null)), csvField(JSON.stringify(custom))].join(',') + '\n';
}

/** Loads the file into pg_temp.lead_import_rows (which must exist); returns the number of rows and the plan of its columns. */
export async function loadCsvIntoStaging(client: pg.ClientBase, input: Readable, options: LoadOptions): Promise<{ rows: number; plan: ColumnPlan }> {
  const parser = input.pipe(
    parse({ bom: true, relax_column_count: true, skip_empty_lines: true, info: true, max_record_size: 1_000_000 }),
  );
  input.on('error', (error) => parser.destroy(error));
  let plan: ColumnPlan | undefined;
  let copy: ReturnType<typeof copyFrom> | undefined;
  let rows = 0;
  let batch = '';
  const every = options.progressEvery ?? 10_000;

  const flush = async () => {
    if (!copy || !batch) return;
    const ok = copy.write(batch);
    batch = '';
    if (!ok) await once(copy, 'drain');
  };

  try {
    // The line a record starts on: after the previous record's last line and any empty lines between.
    let previous = { lines: 0, empty: 0 };
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number; empty_lines: number } }>) {
      const line = previous.lines + (info.empty_lines - previous.empty) + 1;
      previous = { lines: info.lines, empty: info.empty_lines };
      if (!plan) {
        plan = planColumns(record.map((h) => h.trim()), options);
        copy = client.query(
          copyFrom(`copy pg_temp.lead_import_rows (line, ${plan.fields.join(', ')}, custom_fields) from stdin with (format csv)`),
        );
        continue;
      }
      batch += stagingLine(line, record, plan);
      rows += 1;
      if (batch.length >= BATCH_BYTES) await flush();
      if (options.onProgress && rows % every === 0) {
        await flush();
        await options.onProgress(rows);
      }
    }
    if (!plan || !copy) throw new ImportFileError('The file is empty: it needs a header row naming its columns, then one row per lead.');
    await flush();
    copy.end();
    await finished(copy);
    return { rows, plan };
  } catch (error) {
    // Abort the COPY (the server discards it) so the connection can roll back.
    if (copy && !copy.destroyed) {
      copy.destroy(error instanceof Error ? error : new Error(String(error)));
      await finished(copy).catch(() => undefined);
    }
    if (error instanceof CsvError) {
      throw new ImportFileError(`The file is not valid CSV: ${error.message}`);
    }
    throw error;
  }
}
