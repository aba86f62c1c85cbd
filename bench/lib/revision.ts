/** What was measured: the commit, and whether the database still matches the declarative folders. */
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { declarativeHash, readDeclarativeFiles } from '../../src/db/declarative.ts';

/** "abc1234" or "abc1234+changes"; "unknown" outside a git checkout. */
export function gitRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

/** The revision a run started from, marked when the tree changed before it ended (the servers under test start mid-run, from the tree of that moment). */
export function revisionAtEnd(atStart: string): string {
  const atEnd = gitRevision();
  return atEnd === atStart ? atStart : `${atStart} (tree at the end: ${atEnd})`;
}

/** True when functions/ or policies/ differ from what the database last applied. */
export async function declarativeChanged(ownerUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ hash: string }>('select hash from app_private.declarative_state where id = 1');
    return rows[0]?.hash !== declarativeHash(readDeclarativeFiles());
  } finally {
    await client.end();
  }
}
