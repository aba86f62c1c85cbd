/**
 * The system emails already in the outbox folder when the sandbox starts
 * (written by an earlier run), newest last: the sandbox lists them with the
 * ones written while it runs. Only `*.eml` files; at most `max`, the newest by
 * modification time.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

export interface OutboxFile {
  file: string;
  raw: Buffer;
  written: Date;
}

export async function readOutbox(dir: string, max: number): Promise<OutboxFile[]> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  const files = await Promise.all(
    names.filter((n) => n.endsWith('.eml')).map(async (n) => {
      const file = path.resolve(dir, n);
      return { file, written: (await stat(file)).mtime };
    }),
  );
  const newest = files.sort((a, b) => a.written.getTime() - b.written.getTime()).slice(-max);
  return Promise.all(newest.map(async (f) => ({ ...f, raw: await readFile(f.file) })));
}
