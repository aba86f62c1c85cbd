/**
 * The file of a tenant export (functions/287-tenant-export.sql): one .tar.gz
 * at PM_DATA_DIR/exports/<tenant id>/<export id>.tar.gz holding
 *
 *   tables/<table>.ndjson   one JSON object per line per row (to_jsonb of the row, columns as in the database)
 *   manifest.json           format, tenant, export, time, and per table: file, rows, bytes, sha256
 *
 * Each table is streamed from the database with COPY into a temporary file
 * (its size must be known before its tar header), then appended to the gzip
 * stream, so memory stays flat whatever the tenant's size. The archive is
 * written under a temporary name and renamed once complete.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGzip } from 'node:zlib';

export const EXPORT_FORMAT = 'penguinmails.tenant-export.v1';

export const exportsDir = (dataDir: string) => path.join(dataDir, 'exports');

/** Where an export's file is kept: `<export id>.tar.gz` (an organisation export) or `<export id>.csv`. */
export const exportFilePath = (dataDir: string, tenantId: string, exportId: string, format: 'tar.gz' | 'csv' = 'tar.gz') =>
  path.join(exportsDir(dataDir), tenantId, `${exportId}.${format}`);

export interface ManifestTable {
  table: string;
  file: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: typeof EXPORT_FORMAT;
  tenantId: string;
  exportId: string;
  /** When the snapshot the rows were read in began. */
  exportedAt: string;
  /** In an order where a table comes after the tables it references (but where keys form a loop). */
  tables: ManifestTable[];
}

/** A tar header (ustar; sizes of 8 GiB and more in the base-256 form GNU tar and bsdtar read). */
export function tarHeader(name: string, size: number, mtime: Date): Buffer {
  const header = Buffer.alloc(512);
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > 100) throw new Error(`tar entry name too long: ${name}`);
  nameBytes.copy(header, 0);
  header.write('0000644\0', 100, 'ascii');
  header.write('0000000\0', 108, 'ascii');
  header.write('0000000\0', 116, 'ascii');
  if (size < 8 ** 11) {
    header.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  } else {
    header[124] = 0x80;
    let rest = BigInt(size);
    for (let i = 135; i > 124; i--) {
      header[i] = Number(rest & 0xffn);
      rest >>= 8n;
    }
  }
  header.write(Math.floor(mtime.getTime() / 1000).toString(8).padStart(11, '0') + '\0', 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write('0', 156, 'ascii');
  header.write('ustar\0' + '00', 257, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return header;
}

const padding = (size: number) => Buffer.alloc((512 - (size % 512)) % 512);

/**
 * COPY's text format of a one-column result, back to the values: one per
 * line, with `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, `\v` decoded. Counts lines.
 */
export class CopyTextLines extends Transform {
  rows = 0;
  private readonly onRows: ((rows: number) => void) | undefined;
  constructor(onRows?: (rows: number) => void) {
    super();
    this.onRows = onRows;
  }
  private partial = '';
  private decoder = new StringDecoder('utf8');
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const text = this.partial + this.decoder.write(chunk);
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.partial = text;
      return callback();
    }
    this.partial = text.slice(end + 1);
    const lines = text.slice(0, end).split('\n');
    this.rows += lines.length;
    this.onRows?.(this.rows);
    this.push(lines.map(decodeCopyText).join('\n') + '\n');
    callback();
  }
  override _flush(callback: (error?: Error | null) => void): void {
    this.partial += this.decoder.end();
    callback(this.partial ? new Error('COPY output ended in the middle of a line') : null);
  }
}

const ESCAPES: Record<string, string> = { '\\': '\\', n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', v: '\v' };

function decodeCopyText(line: string): string {
  if (!line.includes('\\')) return line;
  return line.replace(/\\(.)/g, (_m, c: string) => ESCAPES[c] ?? c);
}

/** Passes bytes through, hashing and counting them. */
function measure(hash: Hash, counter: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      counter.bytes += chunk.length;
      callback(null, chunk);
    },
  });
}

export interface ArchiveWriter {
  /** Streams one table's COPY output (one JSON value per line) into the archive. */
  addTable(table: string, copyOut: Readable, onRows?: (rows: number) => void): Promise<ManifestTable>;
  /** Writes the manifest, closes the archive and moves it into place. */
  finish(manifest: Omit<Manifest, 'tables' | 'format'>): Promise<{ path: string; bytes: number; sha256: string; tables: ManifestTable[] }>;
  /** Removes what was written. */
  discard(): Promise<void>;
}

export async function openArchive(dataDir: string, tenantId: string, exportId: string): Promise<ArchiveWriter> {
  const finalPath = exportFilePath(dataDir, tenantId, exportId);
  const dir = path.dirname(finalPath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmpPath = `${finalPath}.tmp`;
  const workPath = `${finalPath}.table.tmp`;
  const mtime = new Date();
  const gzip = createGzip();
  const archiveHash = createHash('sha256');
  const archiveSize = { bytes: 0 };
  const written = pipeline(gzip, measure(archiveHash, archiveSize), createWriteStream(tmpPath, { mode: 0o600 }));
  written.catch(() => undefined); // awaited in finish; a failure also surfaces in the next write
  const tables: ManifestTable[] = [];

  // Writes into the gzip stream, honouring its backpressure; fails if the
  // stream closes first (its pipeline failed: disk full).
  const drained = () => new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      gzip.off('drain', onDrain);
      gzip.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('The archive stream closed while it was written.'));
    gzip.once('drain', onDrain);
    gzip.once('close', onClose);
  });
  const append = (source: Readable) => pipeline(source, new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (gzip.write(chunk)) callback();
      else drained().then(() => callback(), callback);
    },
  }));
  const appendBuffer = async (buffer: Buffer) => {
    if (!gzip.write(buffer)) await drained();
  };

  return {
    async addTable(table, copyOut, onRows) {
      const file = `tables/${table}.ndjson`;
      const hash = createHash('sha256');
      const size = { bytes: 0 };
      const lines = new CopyTextLines(onRows);
      await pipeline(copyOut, lines, measure(hash, size), createWriteStream(workPath, { mode: 0o600 }));
      await appendBuffer(tarHeader(file, size.bytes, mtime));
      await append(createReadStream(workPath));
      await appendBuffer(padding(size.bytes));
      await rm(workPath, { force: true });
      const entry = { table, file, rows: lines.rows, bytes: size.bytes, sha256: hash.digest('hex') };
      tables.push(entry);
      return entry;
    },
    async finish(info) {
      const manifest: Manifest = { format: EXPORT_FORMAT, ...info, tables };
      const body = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
      await appendBuffer(tarHeader('manifest.json', body.length, mtime));
      await appendBuffer(body);
      await appendBuffer(padding(body.length));
      gzip.end(Buffer.alloc(1024)); // the end-of-archive marker: two zero blocks
      await written;
      await rename(tmpPath, finalPath);
      return { path: finalPath, bytes: archiveSize.bytes, sha256: archiveHash.digest('hex'), tables };
    },
    async discard() {
      gzip.destroy();
      await written.catch(() => undefined);
      await rm(tmpPath, { force: true });
      await rm(workPath, { force: true });
      await rm(finalPath, { force: true });
    },
  };
}

/**
 * Deletes every file under PM_DATA_DIR/exports that no kept export owns
 * (expired, failed, deleted with a purged organisation, or left half-written
 * by a worker that stopped). The files are listed before the kept exports
 * are read: an export's row exists before its file, so a file written
 * meanwhile is either not listed or kept. Returns the paths it deleted.
 */
export async function removeUnkeptExportFiles(
  dataDir: string,
  keptExports: () => Promise<Array<{ tenant_id: string; id: string }>>,
): Promise<string[]> {
  const root = exportsDir(dataDir);
  const listed: Array<{ dir: string; name: string; key: string }> = [];
  let tenants: string[];
  try {
    tenants = await readdir(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  for (const tenant of tenants) {
    const dir = path.join(root, tenant);
    if (!(await stat(dir)).isDirectory()) continue;
    for (const name of await readdir(dir)) listed.push({ dir, name, key: `${tenant}/${name.split('.')[0]}` });
  }
  const keep = new Set((await keptExports()).map((k) => `${k.tenant_id}/${k.id}`));
  const removed: string[] = [];
  for (const file of listed) {
    if (keep.has(file.key)) continue;
    await rm(path.join(file.dir, file.name), { force: true, recursive: true });
    removed.push(path.join(file.dir, file.name));
  }
  return removed;
}
