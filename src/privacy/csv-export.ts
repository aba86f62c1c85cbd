/**
 * The file of a CSV export (functions/288-data-exports.sql): PostgreSQL's
 * `COPY … (format csv, header)` output streamed to
 * PM_DATA_DIR/exports/<tenant id>/<export id>.csv under a temporary name,
 * hashed and counted on the way, and renamed once complete. COPY's CSV is
 * RFC 4180 quoting (a field holding a comma, a double quote or a line break
 * is quoted, quotes doubled), UTF-8, lines ending in LF.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { exportFilePath } from './tenant-archive.ts';

/**
 * Counts the records of a CSV stream (line breaks outside quoted fields; a
 * doubled quote toggles twice, so it needs no special case), the header
 * record included, and passes the bytes through.
 */
export class CsvRecordCounter extends Transform {
  records = 0;
  private quoted = false;
  private readonly onRecords: ((records: number) => void) | undefined;
  constructor(onRecords?: (records: number) => void) {
    super();
    this.onRecords = onRecords;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    for (const byte of chunk) {
      if (byte === 0x22) this.quoted = !this.quoted;
      else if (byte === 0x0a && !this.quoted) this.records += 1;
    }
    this.onRecords?.(this.records);
    callback(null, chunk);
  }
}

export interface CsvFile {
  path: string;
  bytes: number;
  sha256: string;
  /** Data rows, the header not counted. */
  rows: number;
}

/** Streams COPY's CSV output (with a header) into the export's file. */
export async function writeCsvExport(
  dataDir: string, tenantId: string, exportId: string, copyOut: Readable, onRows?: (rows: number) => void,
): Promise<CsvFile> {
  const finalPath = exportFilePath(dataDir, tenantId, exportId, 'csv');
  await mkdir(path.dirname(finalPath), { recursive: true, mode: 0o700 });
  const tmpPath = `${finalPath}.tmp`;
  const hash = createHash('sha256');
  let bytes = 0;
  const counter = new CsvRecordCounter((records) => onRows?.(Math.max(records - 1, 0)));
  try {
    await pipeline(copyOut, counter, new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        bytes += chunk.length;
        callback(null, chunk);
      },
    }), createWriteStream(tmpPath, { mode: 0o600 }));
    await rename(tmpPath, finalPath);
  } catch (error) {
    await rm(tmpPath, { force: true });
    throw error;
  }
  return { path: finalPath, bytes, sha256: hash.digest('hex'), rows: Math.max(counter.records - 1, 0) };
}

/** Removes a CSV export's file (and a half-written one). */
export async function discardCsvExport(dataDir: string, tenantId: string, exportId: string): Promise<void> {
  const finalPath = exportFilePath(dataDir, tenantId, exportId, 'csv');
  await rm(`${finalPath}.tmp`, { force: true });
  await rm(finalPath, { force: true });
}
