/**
 * Where uploaded CSV files live between the upload and the worker:
 * PM_DATA_DIR/imports/<tenant id>/<import id>.csv. An upload is first written
 * to a temporary name and only moved into place once its lead_imports row
 * exists, so the worker never sees half a file.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const importsDir = (dataDir: string) => path.join(dataDir, 'imports');

export const importFilePath = (dataDir: string, tenantId: string, importId: string) =>
  path.join(importsDir(dataDir), tenantId, `${importId}.csv`);

export class UploadTooLargeError extends Error {
  override name = 'UploadTooLargeError';
  readonly limit: number;
  constructor(limit: number) {
    super(`The file is larger than the limit of ${limit} bytes.`);
    this.limit = limit;
  }
}

export interface StoredUpload {
  path: string;
  bytes: number;
  /** Moves the upload to its final name. */
  moveTo(finalPath: string): Promise<void>;
  discard(): Promise<void>;
}

/** Streams a request body to a temporary file, refusing more than maxBytes. */
export async function storeUpload(body: Readable, dataDir: string, maxBytes: number): Promise<StoredUpload> {
  const dir = importsDir(dataDir);
  await mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `upload-${randomUUID()}.tmp`);
  let bytes = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback(bytes > maxBytes ? new UploadTooLargeError(maxBytes) : null, chunk);
    },
  });
  try {
    await pipeline(body, limit, createWriteStream(tmp, { mode: 0o600 }));
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  let current = tmp;
  return {
    get path() {
      return current;
    },
    bytes,
    async moveTo(finalPath) {
      await mkdir(path.dirname(finalPath), { recursive: true });
      await rename(current, finalPath);
      current = finalPath;
    },
    async discard() {
      await rm(current, { force: true });
    },
  };
}
