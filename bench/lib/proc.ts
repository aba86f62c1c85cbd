/**
 * What the kernel knows about a process (Linux /proc): peak and current
 * resident memory, and CPU time. PostgreSQL's CPU is the postmaster's own,
 * plus its live children's, plus what its exited children (backends that
 * closed, autovacuum workers) accumulated: a difference of two readings is
 * everything the server did in between.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

export interface MemoryStatus {
  /** Peak resident set size (VmHWM), kB. */
  peakKb: number;
  /** Current resident set size (VmRSS), kB. */
  rssKb: number;
}

export function memoryOf(pid: number): MemoryStatus | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { peakKb: field('VmHWM'), rssKb: field('VmRSS') };
  } catch {
    return null;
  }
}

interface StatFields {
  ppid: number;
  /** utime + stime, seconds. */
  own: number;
  /** cutime + cstime (waited-for children), seconds. */
  children: number;
}

function statOf(pid: number): StatFields | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it are fixed.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(rest[i - 3]);
    const hz = clockTicks();
    return { ppid: n(4), own: (n(14) + n(15)) / hz, children: (n(16) + n(17)) / hz };
  } catch {
    return null;
  }
}

/** CPU seconds a process has used so far (user + system). */
export function cpuSecondsOf(pid: number): number {
  return statOf(pid)?.own ?? NaN;
}

function childrenOf(ppid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (statOf(Number(entry))?.ppid === ppid) pids.push(Number(entry));
  }
  return pids;
}

/** CPU seconds the whole PostgreSQL server has used so far (postmaster, live and exited children). */
export function serverCpuSeconds(postmasterPid: number): number {
  const postmaster = statOf(postmasterPid);
  if (!postmaster) return NaN;
  return postmaster.own + postmaster.children + childrenOf(postmasterPid).reduce((sum, pid) => sum + (statOf(pid)?.own ?? 0), 0);
}

/**
 * The postmaster of the server this connection talks to, when it runs on
 * this machine (its backend's parent); null for a remote server.
 */
export async function findPostmaster(client: pg.ClientBase): Promise<number | null> {
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  const backend = statOf(rows[0]!.pid);
  if (!backend) return null;
  const parent = readFileSync(`/proc/${backend.ppid}/cmdline`, 'utf8').split('\0')[0] ?? '';
  return /postgres/.test(parent) ? backend.ppid : null;
}
