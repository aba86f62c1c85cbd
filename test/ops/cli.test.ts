/**
 * The commands as an operator runs them, spawned as real processes: `--help`
 * on every CLI; `npm start`'s start-up progress (database, migrations, API,
 * Ruru, worker, where system emails go), its one-line errors for a taken
 * port and a data folder already in use; system emails logged with where they
 * went, linking to this server (its real port), which explains how to finish
 * the flow; and `npm run worker` running jobs against DATABASE_URL with its
 * own /metrics.
 */
import { jest } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createPool, sql } from '../../src/db/pg.ts';
import { isolatedDatabase, TEST_JWT_SECRET } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';

jest.setTimeout(90_000);

interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

let dataDir: string;
beforeAll(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'pm-cli-'));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

function run(script: string, args: string[], env: Record<string, string | undefined>): Spawned {
  const { NODE_OPTIONS: _jest, DATABASE_URL: _db, ...inherited } = process.env;
  const child = spawn(process.execPath, [script, ...args], {
    // The sandbox's catcher and DNS on free ports, so parallel suites never meet on the default ones.
    env: { ...inherited, NODE_ENV: 'development', GRAPHILE_ENV: 'development', LOG_LEVEL: 'info', PM_DATA_DIR: dataDir, JWT_SECRET: TEST_JWT_SECRET,
      SANDBOX_SMTP_PORT: '0', SANDBOX_DNS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The structured log lines a process printed (progress lines are log lines). */
const logLines = (text: string) =>
  text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);

test('--help: every CLI prints its usage and exits 0 without touching a database', async () => {
  for (const [script, args, first] of [
    ['src/cli/start.ts', ['--help'], 'Usage: npm start'],
    ['src/cli/worker.ts', ['-h'], 'Usage: npm run worker'],
    ['src/cli/db.ts', ['migrate', '--help'], 'Usage: npm run db:<command>'],
    ['src/cli/seed.ts', ['--help'], 'Usage: npm run db:seed'],
    ['src/cli/export-schema.ts', ['--help'], 'Usage: npm run schema:export'],
    ['src/cli/apply-declarative.ts', ['--help'], 'Usage: node src/cli/apply-declarative.ts'],
  ] as const) {
    const p = run(script, [...args], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(await p.exited).toBe(0);
    expect(p.stdout().slice(0, first.length)).toBe(first);
    expect(p.stderr()).toBe('');
  }
});

describe('npm start against a database', () => {
  let database: Awaited<ReturnType<typeof isolatedDatabase>>;
  beforeAll(async () => {
    database = await isolatedDatabase('cli');
  });
  afterAll(() => database?.drop());

  const startEnv = (extra: Record<string, string>) => ({ DATABASE_URL: database.urls.owner, AUTH_DATABASE_URL: database.urls.authenticator, ...extra });

  test('a taken port is one line on stderr and exit code 1, not a stack trace', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const p = run('src/cli/start.ts', [], startEnv({ PORT: String(port), WORKER: 'false' }));
      expect(await p.exited).toBe(1);
      expect(p.stderr()).toBe(`npm start: port ${port} on 127.0.0.1 is already in use (is PenguinMails already running?): stop that process or set PORT to a free port.\n`);
    } finally {
      blocker.close();
    }
  });

  test('start-up says what it does and where things are; system emails are logged with their file, and link to this server, which explains the next step', async () => {
    const outbox = path.join(dataDir, 'outbox');
    const p = run('src/cli/start.ts', [], startEnv({ PORT: '0' }));
    try {
      const up = await eventually(async () => logLines(p.stdout()).find((l) => /^PenguinMails is up on /.test(l.msg)), 60_000, 100);
      const url = up.url as string;
      const messages = logLines(p.stdout()).map((l) => l.msg as string);
      expect(messages).toEqual(expect.arrayContaining([
        expect.stringMatching(/^Connecting to PostgreSQL at postgres:\/\/penguinmails_owner:\*\*\*@127\.0\.0\.1:\d+\/pm_cli_\w+ \(DATABASE_URL\)…$/),
        expect.stringMatching(/^Database pm_cli_\w+ ready: migrations, functions\/ and policies\/ applied$/),
        `API listening on ${url}/graphql`,
        `Ruru (GraphQL IDE) at ${url}/graphiql`,
        `Metrics at ${url}/metrics`,
        expect.stringMatching(new RegExp(`^Sandbox \\(development only\\): mail catcher on SMTP 127\\.0\\.0\\.1:\\d+ .*; caught mail and system emails at ${url}/sandbox$`)),
        expect.stringMatching(/^Sandbox DNS on 127\.0\.0\.1:\d+ publishes every domain's records/),
        'Worker running (concurrency 4)',
        `System emails (invitations, password resets) go to ${outbox}/*.eml (set SYSTEM_SMTP_URL to send them)`,
      ]));
      expect(p.stdout()).not.toContain(new URL(database.urls.owner).password);

      // A password reset without SMTP: logged with its file; the link uses this server's real port.
      const email = `cli-${process.pid}@example.com`;
      const owner = createPool({ connectionString: database.urls.owner, bigIntMode: 'string', poolSize: 1 });
      await owner.query(sql`select app_private.create_user(${email}, 'cli password 123', 'Cli', true)`);
      await owner.dispose();
      const gql = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: `mutation($e: String!) { requestPasswordReset(input: { email: $e }) { result } }`, variables: { e: email } }) });
      expect(((await gql.json()) as any).data.requestPasswordReset.result).toBe(true);
      const sent = await eventually(async () => logLines(p.stdout()).find((l) => l.component === 'mail' && l.to === email), 15_000, 100);
      expect(sent.msg).toBe(`system email to ${email} written to ${sent.file} (SYSTEM_SMTP_URL is not set)`);
      expect(path.dirname(sent.file)).toBe(outbox);
      const eml = readFileSync(sent.file, 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      const link = new RegExp(`${url.replace(/[.:/]/g, '\\$&')}/reset-password\\?token=[A-Za-z0-9_%-]+`).exec(eml)?.[0];
      expect(link).toBeDefined();
      const landing = await fetch(link!);
      expect(landing.status).toBe(200);
      const html = await landing.text();
      expect(html).toContain('resetPassword(input: { token: "');
      expect(html).toContain('APP_URL');
    } finally {
      p.child.kill('SIGTERM');
      const code = await p.exited;
      // On failure, what the process said last (its error is there).
      expect({ code, tail: code === 0 ? '' : (p.stdout() + p.stderr()).slice(-2000) }).toEqual({ code: 0, tail: '' });
    }
  });

  test('npm run worker runs jobs against DATABASE_URL and serves its own /metrics; SIGTERM stops it cleanly', async () => {
    const p = run('src/cli/worker.ts', [], { DATABASE_URL: database.urls.owner, METRICS_PORT: '0', PUBLIC_URL: 'https://track.example' });
    try {
      const running = await eventually(async () => logLines(p.stdout()).find((l) => /^Worker running/.test(l.msg)), 30_000, 100);
      const owner = createPool({ connectionString: database.urls.owner, bigIntMode: 'string', poolSize: 1 });
      await owner.query(sql`select graphile_worker.add_job('cleanup_expired_tokens', '{}'::json)`);
      await owner.dispose();
      const metrics = await eventually(async () => {
        const text = await (await fetch(running.metricsUrl)).text();
        return /penguinmails_jobs_run_total\{task="cleanup_expired_tokens",outcome="completed"\} [1-9]/.test(text) && text;
      }, 15_000, 200);
      expect(metrics).toMatch(/penguinmails_db_pool_connections\{pool="worker_metrics",state="max"\} 2/);
    } finally {
      p.child.kill('SIGTERM');
      const code = await p.exited;
      // On failure, what the process said last (its error is there).
      expect({ code, tail: code === 0 ? '' : (p.stdout() + p.stderr()).slice(-2000) }).toEqual({ code: 0, tail: '' });
    }
  });
});

test('npm run worker without DATABASE_URL: one line and exit code 1', async () => {
  const p = run('src/cli/worker.ts', [], {});
  expect(await p.exited).toBe(1);
  expect(p.stderr()).toBe('npm run worker: set DATABASE_URL to the database the API uses (postgres://penguinmails_owner:…@host/penguinmails); the worker does not start a database of its own.\n');
});

test('a second npm start on a data folder in use: one line and exit code 1, before touching the database', async () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'pm-cli-locked-'));
  try {
    writeFileSync(path.join(folder, 'penguinmails.pid'), String(process.pid)); // this (live) jest process holds it
    const p = run('src/cli/start.ts', [], { PM_DATA_DIR: folder });
    expect(await p.exited).toBe(1);
    expect(p.stderr()).toBe(`npm start: another PenguinMails (pid ${process.pid}) is running on the data folder ${folder}: stop it first, or set PM_DATA_DIR to another folder (or DATABASE_URL to a shared database).\n`);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
