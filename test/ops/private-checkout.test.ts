/**
 * As root, a checkout under a private folder (mode 0700, like /root or a
 * `mktemp -d`): PostgreSQL runs as the `postgres` user, which cannot reach
 * the binaries or the data folder inside it. The embedded server must still
 * start (binaries copied to a cache under the temp dir, data folder moved
 * there too). The checkout is this worktree hard-linked (cp -al) into a
 * fresh mkdtemp folder; a process started there starts the embedded server
 * as `npm start` does, queries it and stops it.
 */
import { spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/db/embedded.ts';

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

(asRoot ? test : test.skip)('as root, the embedded PostgreSQL starts from a checkout under a mode-0700 folder', async () => {
  const privateDir = mkdtempSync(path.join(os.tmpdir(), 'pm-private-'));
  try {
    expect(statSync(privateDir).mode & 0o777).toBe(0o700);
    const checkout = path.join(privateDir, 'checkout');
    const entries = readdirSync(process.cwd()).filter((e) => !['.git', '.data'].includes(e));
    const copied = spawnSync('sh', ['-c', `mkdir "${checkout}" && cp -al ${entries.map((e) => `"${e}"`).join(' ')} "${checkout}/"`], { cwd: process.cwd() });
    expect(copied.status).toBe(0);

    const port = await freePort();
    const script = `
      import { startEmbeddedPostgres } from './src/db/embedded.ts';
      import pg from 'pg';
      const cluster = await startEmbeddedPostgres({ dataDir: '.data/postgres', port: ${port}, superuserPassword: 'private-checkout', ephemeral: true, fast: true });
      const client = new pg.Client(cluster.superuserUrl());
      await client.connect();
      const { rows } = await client.query("select current_setting('data_directory') as dir, current_user as who");
      console.log(JSON.stringify(rows[0]));
      await client.end();
      await cluster.stop();
    `;
    const { NODE_OPTIONS: _jest, ...env } = process.env;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: checkout, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, err: err.includes('EACCES') ? err : '' }).toEqual({ code: 0, err: '' });
    const row = JSON.parse(out.trim().split('\n').at(-1)!) as { dir: string; who: string };
    // Outside the private folder: the data folder under the temp dir, not inside the checkout.
    expect(row.dir.startsWith(privateDir)).toBe(false);
    expect(row.who).toBe('postgres');
    // The binaries the server ran from: the cached copy, reachable by everyone.
    const cache = readdirSync(os.tmpdir()).find((e) => e.startsWith('penguinmails-pg-bin-'));
    expect(cache).toBeDefined();
    expect(statSync(path.join(os.tmpdir(), cache!, 'native', 'bin')).mode & 0o005).toBe(0o005);
  } finally {
    await rm(privateDir, { recursive: true, force: true });
  }
}, 120_000);
