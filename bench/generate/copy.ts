/**
 * Bulk loading through COPY (text format) with pg-copy-streams, in chunks:
 * every `chunkRows` rows the COPY statement ends (and commits), so one
 * statement's transition tables (which the statement-level rollup triggers
 * on messages and email_events read) and its pending foreign-key checks stay
 * a bounded size.
 */
import type pg from 'pg';
import { from as copyFrom, type CopyStreamQuery } from 'pg-copy-streams';
import type { Cell } from './rows.ts';

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One cell in COPY's text format. */
export function encodeCell(value: Cell): string {
  if (value === null) return '\\N';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number') return String(value);
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!) : value;
}

export function encodeRow(row: readonly Cell[]): string {
  let line = '';
  for (let i = 0; i < row.length; i++) line += (i === 0 ? '' : '\t') + encodeCell(row[i]!);
  return line + '\n';
}

export interface CopyOptions {
  chunkRows: number;
  /** Called after each committed chunk with the rows loaded so far. */
  onChunk?: (rows: number) => void;
}

const FLUSH_BYTES = 1 << 18;

/** COPYs every row into the table; returns the number of rows. */
export async function copyRows(
  client: pg.ClientBase,
  table: string,
  columns: readonly string[],
  rows: Iterable<readonly Cell[]>,
  { chunkRows, onChunk }: CopyOptions,
): Promise<number> {
  const statement = `copy ${table} (${columns.join(', ')}) from stdin`;
  let total = 0;
  let inChunk = 0;
  let buffer = '';
  let stream: CopyStreamQuery | null = null;
  // The server may reject a row at any time; remember the first error so
  // no later write or wait can miss it.
  let failure: Error | null = null;
  const settle = (s: CopyStreamQuery, event: 'drain' | 'finish') =>
    new Promise<void>((resolve, reject) => {
      if (failure) return reject(failure);
      const done = () => {
        s.off('error', failed);
        resolve();
      };
      const failed = (e: Error) => {
        s.off(event, done);
        reject(e);
      };
      s.once(event, done);
      s.once('error', failed);
    });

  const write = async (data: string) => {
    if (!stream) {
      const s = client.query(copyFrom(statement));
      s.on('error', (e: Error) => (failure ??= e));
      stream = s;
    }
    if (!stream.write(data)) await settle(stream, 'drain');
    if (failure) throw failure;
  };
  const finishChunk = async () => {
    if (buffer) await write(buffer);
    buffer = '';
    if (stream) {
      const done = settle(stream, 'finish');
      stream.end();
      await done;
      stream = null;
      onChunk?.(total);
    }
    inChunk = 0;
  };

  try {
    for (const row of rows) {
      if (row.length !== columns.length) {
        throw new Error(`${table}: a generated row has ${row.length} cells, expected ${columns.length} (${columns.join(', ')})`);
      }
      buffer += encodeRow(row);
      total++;
      inChunk++;
      if (buffer.length >= FLUSH_BYTES) {
        await write(buffer);
        buffer = '';
      }
      if (inChunk >= chunkRows) await finishChunk();
    }
    await finishChunk();
  } catch (error) {
    (stream as CopyStreamQuery | null)?.destroy(error as Error);
    const e = error as Error & { where?: string };
    throw new Error(`Loading ${table} failed: ${e.message}${e.where ? ` (${e.where.slice(0, 200)})` : ''}`, { cause: error });
  }
  return total;
}
