/**
 * `npm start` (src/cli/start.ts) as a real process in its own process group,
 * with its embedded PostgreSQL in a throw-away data folder: a terminal's
 * Ctrl-C (SIGINT to the whole group) stops it cleanly (exit 0, the database
 * last) whether it arrives during start-up or later; the database stopped
 * immediately under it is started again, `/readyz` says so, and the
 * process keeps running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../../src/db/embedded.ts';
import { eventually } from '../helpers/eventually.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'penguinmails-start-'));
let pgPort = 0;
let httpPort = 0;

beforeAll(async () => {
  [pgPort, httpPort] = (await freePorts(2)) as [number, number];
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  output: () => string;
}

function start(): Started {
  let output = '';
  const child = spawn(path.resolve('node_modules/.bin/node'), ['src/cli/start.ts'], {
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      NODE_ENV: 'development',
      PM_DATA_DIR: dataDir,
      PORT: String(httpPort),
      PM_EMBEDDED_PG_PORT: String(pgPort),
      // The sandbox's catcher and DNS on free ports, so parallel suites never meet on the default ones.
      SANDBOX_SMTP_PORT: '0',
      SANDBOX_DNS_PORT: '0',
      // Progress lines (info) tell when start-up is done.
      LOG_LEVEL: 'info',
    },
    // Its own process group, like a terminal's foreground job.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

/** The postmaster of the embedded cluster, from its postmaster.pid (null when none runs). */
function postmasterPid(): number | null {
  for (const dir of [path.join(dataDir, 'postgres'), ...candidateDirs()]) {
    try {
      const pid = Number(readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      process.kill(pid, 0);
      return pid;
    } catch {
      // not this folder, or not running
    }
  }
  return null;
}

/** As root the cluster lives under the temp folder (src/db/embedded.ts reachableDataDir). */
function candidateDirs(): string[] {
  const tag = createHash('sha256').update(path.resolve(path.join(dataDir, 'postgres'))).digest('hex').slice(0, 12);
  return [path.join(os.tmpdir(), `penguinmails-pg-${tag}`)];
}

async function readyz(): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status;
  } catch {
    return 0;
  }
}

async function ctrlC(started: Started): Promise<{ code: number | null; signal: string | null }> {
  const exited = once(started.child, 'exit') as Promise<[number | null, string | null]>;
  process.kill(-started.child.pid!, 'SIGINT');
  const [code, signal] = await exited;
  return { code, signal };
}

test('running: an immediate database stop is survived and reported by /readyz; Ctrl-C then stops everything, the database last', async () => {
  const started = start();
  await eventually(async () => started.output().includes('PenguinMails is up on'), 150_000, 100).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}: ${started.output()}`);
  });
  expect(await readyz()).toBe(200);
  const pid = postmasterPid();
  expect(pid).not.toBeNull();

  process.kill(pid!, 'SIGQUIT');
  await eventually(async () => (await readyz()) === 503, 30_000, 20);
  await eventually(async () => (await readyz()) === 200, 30_000, 50);
  expect(started.child.exitCode).toBeNull();
  const restarted = postmasterPid();
  expect(restarted).not.toBeNull();
  expect(restarted).not.toBe(pid);

  expect(await ctrlC(started)).toEqual({ code: 0, signal: null });
  expect(started.output()).toContain('SIGINT: shutting down');
  expect(postmasterPid()).toBeNull();
}, 240_000);

test('Ctrl-C during start-up: a clean stop, nothing left running', async () => {
  const started = start();
  // Start-up has begun when the database is up (the API is not yet).
  await eventually(async () => postmasterPid() !== null, 60_000, 20);
  expect(await ctrlC(started)).toEqual({ code: 0, signal: null });
  expect(started.output()).toContain('Stopped during start-up');
  expect(started.output()).not.toMatch(/ECONNRESET|Unhandled|uncaught/i);
  expect(postmasterPid()).toBeNull();
}, 120_000);
