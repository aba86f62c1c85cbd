/**
 * A real API server with the CSV upload route (as the platform registers it)
 * and a real worker on the same private database, plus helpers to upload a
 * file over HTTP and follow the import through the GraphQL API.
 */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import { startTestWorker, type TestWorker } from '../helpers/worker.ts';
import { startTestApi, testEnv, type TestApi } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';

export interface LeadImportView {
  rowId: string;
  status: 'PENDING' | 'PROCESSING' | 'COMPLETED' | 'FAILED';
  totalRows: number;
  importedRows: number;
  updatedRows: number;
  skippedRows: number;
  unmappedColumns: string[];
  keepUnmapped: boolean;
  errors: Array<{ line: number; email: string | null; reason: string }>;
  failureReason: string | null;
}

export interface UploadResponse {
  leadImport?: { rowId: string; status: string; fileName: string; byteSize: number; contactListId: string | null; updateExisting: boolean };
  progress?: string;
  errors?: Array<{ message: string; extensions: { code: string } }>;
}

export interface ImportHarness {
  t: TestApi;
  dataDir: string;
  upload(token: string | undefined, body: string | Buffer, params?: Record<string, string>, contentType?: string): Promise<{ status: number; body: UploadResponse }>;
  importOf(token: string, rowId: string): Promise<LeadImportView>;
  /** Polls the leadImport query until the import is completed or failed; `seen` collects every state observed. */
  finished(token: string, rowId: string, seen?: LeadImportView[], timeoutMs?: number): Promise<LeadImportView>;
  close(): Promise<void>;
}

export const IMPORT_FIELDS = 'rowId status totalRows importedRows updatedRows skippedRows unmappedColumns keepUnmapped errors failureReason';

export async function startImportHarness({
  maxBytes = 64 * 1024 * 1024,
  worker: withWorker = true,
  env: overrides = {} as Record<string, string>,
} = {}): Promise<ImportHarness> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'pm-import-'));
  const env = testEnv({ ...overrides, PM_DATA_DIR: dataDir, LOG_LEVEL: 'error' });
  const t = await startTestApi({ ...overrides, PM_DATA_DIR: dataDir, IMPORT_MAX_BYTES: String(maxBytes) }, 'platform');
  let worker: TestWorker | undefined;
  if (withWorker) {
    worker = await startTestWorker(t.urls.owner, env, { outboxDir: path.join(dataDir, 'outbox') });
  }
  const importOf = async (token: string, rowId: string) =>
    (await t.ok(`query($id: UUID!) { leadImport(rowId: $id) { ${IMPORT_FIELDS} } }`, { id: rowId }, token)).leadImport as LeadImportView;
  return {
    t,
    dataDir,
    async upload(token, body, params = { fileName: 'leads.csv' }, contentType = 'text/csv') {
      const response = await fetch(`${t.url}/imports/leads?${new URLSearchParams(params)}`, {
        method: 'POST',
        headers: { 'content-type': contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
      });
      return { status: response.status, body: (await response.json()) as UploadResponse };
    },
    importOf,
    finished(token, rowId, seen = [], timeoutMs = 30_000) {
      return eventually(async () => {
        const current = await importOf(token, rowId);
        seen.push(current);
        return (current.status === 'COMPLETED' || current.status === 'FAILED') && current;
      }, timeoutMs, 25);
    },
    async close() {
      await worker?.stop();
      await t.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
