/**
 * Figure 7 — Import: a CSV of new leads (standard columns and two custom
 * fields) uploaded to POST /imports/leads as a tenant member, loaded by the
 * product's worker (import_leads: COPY into staging, then SQL validates,
 * de-duplicates and inserts), timed from the start of the upload until the
 * import reports completed. Anchors: a bare COPY of the same file into a
 * table of text columns, the fastest way that file gets into PostgreSQL,
 * and COPY plus one INSERT … SELECT into leads (what the leads table itself
 * costs: its indexes, generated search column and triggers).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { COMPANIES, FIRST_NAMES, INDUSTRIES, LAST_NAMES, TITLES, label } from '../generate/names.ts';
import { Rng } from '../generate/random.ts';
import { startChild } from '../lib/child.ts';
import { benchFile, type BenchContext } from '../lib/context.ts';
import { describeProfile, sampleActivity, type ActivityProfile } from '../lib/activity.ts';
import { describeSplit, watchCpu, withoutSampler } from '../lib/cpu.ts';
import { graphql } from '../lib/http-load.ts';
import { compare, type FigureResult, type Measurement } from '../lib/report.ts';
import { createScratchTenant, removeScratchTenant } from '../lib/scratch-tenant.ts';

const STALL_MS = 30_000;

const HEADER = ['Email', 'First Name', 'Last Name', 'Company', 'Job Title', 'Phone', 'Website', 'industry', 'score'];

const csvField = (value: string) => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

/** Writes `rows` deterministic leads as CSV; returns the file's size. */
async function writeCsv(file: string, rows: number, seed: number): Promise<number> {
  const rng = new Rng(seed, 9);
  const out = createWriteStream(file);
  const write = (text: string) => (out.write(text) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', () => resolve())));
  await write(HEADER.join(',') + '\n');
  for (let i = 0; i < rows; i++) {
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    const company = rng.pick(COMPANIES);
    await write([
      `${label(first)}.${label(last)}.${i}@import${i % 97}.bench.example`, first, last, company, rng.pick(TITLES),
      rng.chance(0.3) ? `+1 555 ${String(rng.int(0, 9_999_999)).padStart(7, '0')}` : '', `https://${label(company)}.example`,
      rng.pick(INDUSTRIES), String(rng.int(0, 100)),
    ].map(csvField).join(',') + '\n');
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return (await stat(file)).size;
}

interface ImportState {
  status: string;
  totalRows: number;
  importedRows: number;
  skippedRows: number;
  failureReason: string | null;
}

/**
 * The anchors, on the same file: a bare COPY into a table of text columns
 * (the fastest way these bytes get into PostgreSQL), and COPY plus one
 * INSERT … SELECT into the tenant's leads as the owner — the plainest SQL
 * that lands the rows in the real table — in a transaction rolled back.
 */
async function copyAnchors(owner: pg.Pool, file: string, tenantId: string): Promise<{ copySeconds: number; intoLeadsSeconds: number }> {
  const client = await owner.connect();
  const columns = HEADER.map((h) => `"${h}" text`).join(', ');
  try {
    await client.query('begin');
    await client.query(`create temporary table bench_import_anchor (${columns}) on commit drop`);
    const c0 = performance.now();
    await pipeline(createReadStream(file), client.query(copyFrom(`copy bench_import_anchor from stdin with (format csv, header true)`)));
    const copySeconds = (performance.now() - c0) / 1000;
    await client.query('rollback');

    await client.query('begin');
    await client.query(`create temporary table bench_import_anchor (${columns}) on commit drop`);
    const i0 = performance.now();
    await pipeline(createReadStream(file), client.query(copyFrom(`copy bench_import_anchor from stdin with (format csv, header true)`)));
    await client.query(
      `insert into app_public.leads (tenant_id, email, first_name, last_name, company, title, phone, website, source, custom_fields)
       select $1, "Email", "First Name", "Last Name", "Company", "Job Title", nullif("Phone", ''), "Website", 'import',
              jsonb_build_object('industry', industry, 'score', score::numeric)
       from bench_import_anchor`,
      [tenantId],
    );
    const intoLeadsSeconds = (performance.now() - i0) / 1000;
    await client.query('rollback');
    return { copySeconds, intoLeadsSeconds };
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export async function importLeads(ctx: BenchContext): Promise<Omit<FigureResult, 'key' | 'number' | 'title'>> {
  const rows = Math.max(10_000, Math.round(5_000 * ctx.options.durationSec));
  const api = await ctx.api();
  const owner = new pg.Pool({ connectionString: ctx.db.urls.owner, max: 3 });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'penguinmails-bench-import-'));
  const file = path.join(dir, 'leads.csv');
  const tenant = await createScratchTenant(owner, 'importer');
  const notes: string[] = [];
  try {
    const bytes = await writeCsv(file, rows, ctx.dataset.seed);
    await owner.query(
      `insert into app_public.custom_field_definitions (tenant_id, key, label, field_type) values ($1, 'industry', 'Industry', 'text'), ($1, 'score', 'Score', 'number')`,
      [tenant.tenantId],
    );
    const anchors = await copyAnchors(owner, file, tenant.tenantId);
    const { token } = await ctx.session(tenant.userId, tenant.tenantId);
    const worker = await startChild<Record<string, never>>(benchFile('servers/product-worker.ts'), ctx.childEnv({
      BENCH_CHILD_CONFIG: JSON.stringify({ publicUrl: api.url }),
    }));
    let state: ImportState;
    let seconds: number;
    let uploadSeconds: number;
    let cpu: ReturnType<Awaited<ReturnType<typeof watchCpu>>>;
    let profile: ActivityProfile;
    try {
      const cpuSince = await watchCpu(owner, worker);
      const sampler = sampleActivity(ctx.monitorUrl);
      ctx.log(`  uploading ${rows.toLocaleString('en-US')} leads (${(bytes / 2 ** 20).toFixed(1)} MB) to ${api.url}/imports/leads`);
      const t0 = performance.now();
      const response = await fetch(`${api.url}/imports/leads?fileName=bench-leads.csv`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv', 'content-length': String(bytes) },
        body: Readable.toWeb(createReadStream(file)) as unknown as RequestInit['body'],
        duplex: 'half',
      } as RequestInit);
      const answer = (await response.json()) as { leadImport?: { rowId: string }; error?: { message?: string } };
      uploadSeconds = (performance.now() - t0) / 1000;
      if (response.status !== 202 || !answer.leadImport) throw new Error(`The upload was refused (HTTP ${response.status}): ${JSON.stringify(answer)}`);
      const id = answer.leadImport.rowId;
      const deadline = t0 + Math.max(120_000, 12_000 * ctx.options.durationSec);
      const progress = `query($id: UUID!) { leadImport(rowId: $id) { status totalRows importedRows skippedRows failureReason } }`;
      // Progress must move: an import whose row count stands still for STALL_MS is stuck, not slow.
      let lastChange = performance.now();
      let lastRows = -1;
      do {
        await new Promise((resolve) => setTimeout(resolve, 100));
        state = (await graphql<{ leadImport: ImportState }>(api.url, token, { query: progress, variables: { id } })).data.leadImport;
        const moved = state.totalRows + state.importedRows;
        if (moved !== lastRows) {
          lastRows = moved;
          lastChange = performance.now();
        }
      } while (!['COMPLETED', 'FAILED'].includes(state.status) && performance.now() < deadline && performance.now() - lastChange < STALL_MS);
      seconds = (performance.now() - t0) / 1000;
      const cpuWithSampler = cpuSince();
      profile = await sampler.stop();
      cpu = withoutSampler(cpuWithSampler, profile);
    } finally {
      await ctx.stopChild('worker (lead import)', worker);
    }
    if (state.status !== 'COMPLETED') {
      throw new Error(
        `The import did not complete: still "${state.status}" with ${state.totalRows} rows read and ${state.importedRows} imported, ` +
          `no progress for ${STALL_MS / 1000} s or past the time limit; ${describeProfile(profile)}`,
      );
    }
    const { rows: counted } = await owner.query<{ n: string }>(`select count(*) as n from app_public.leads where tenant_id = $1`, [tenant.tenantId]);
    if (Number(counted[0]!.n) !== state.importedRows || state.importedRows !== rows) {
      throw new Error(`The import reports ${state.importedRows} imported rows and the tenant has ${counted[0]!.n} leads; the file had ${rows}.`);
    }
    ctx.log(`  ${state.importedRows.toLocaleString('en-US')} leads imported in ${seconds.toFixed(1)} s (upload ${uploadSeconds.toFixed(1)} s)`);
    notes.push(`${rows.toLocaleString('en-US')} rows, ${(bytes / 2 ** 20).toFixed(1)} MB; upload answered in ${uploadSeconds.toFixed(2)} s, the worker finished ${(seconds - uploadSeconds).toFixed(1)} s later.`);
    notes.push(`CPU split: ${describeSplit(cpu, `${rows.toLocaleString('en-US')} rows`)}`);
    notes.push(`Database profile during the import: ${describeProfile(profile)}`);

    const product: Measurement = {
      label: 'POST /imports/leads + import_leads worker', side: 'product', value: Math.round(rows / seconds), unit: 'rows/s',
      detail: `${rows} rows in ${seconds.toFixed(2)} s from the upload's first byte to "completed"`,
    };
    const anchor: Measurement = {
      label: 'bare COPY of the same file (text columns)', side: 'anchor', value: Math.round(rows / anchors.copySeconds), unit: 'rows/s',
      detail: `${rows} rows in ${anchors.copySeconds.toFixed(2)} s`,
    };
    const intoLeads: Measurement = {
      label: 'COPY + one INSERT … SELECT into leads (rolled back)', side: 'info', value: Math.round(rows / anchors.intoLeadsSeconds), unit: 'rows/s',
      detail: `${rows} rows in ${anchors.intoLeadsSeconds.toFixed(2)} s: the leads table's indexes (two GIN), generated search column and triggers included`,
    };
    return {
      measurements: [product, anchor, intoLeads],
      comparisons: [
        compare('CSV import: product vs bare COPY', product, anchor, 'value', (x) => `the import path takes ×${x} the time of a bare COPY`),
        compare('CSV import: product vs COPY + INSERT into leads', product, intoLeads, 'value', (x) => `×${x} the time of the plainest SQL into the real table`),
      ],
      notes,
      profiles: { import: profile },
    };
  } finally {
    const problem = await removeScratchTenant(owner, tenant);
    if (problem) ctx.log(`  ${problem}`);
    await rm(dir, { recursive: true, force: true });
    await owner.end();
  }
}
