/**
 * Servers under test run in child processes, so their memory and CPU are
 * their own (and the load generator's are not counted against them). A tiny
 * request/reply protocol over the IPC channel: the child announces itself
 * with { type: 'ready', ... }, then answers { id, type, ... } with
 * { id, ok, result | error }.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { cpuSecondsOf, memoryOf, type MemoryStatus } from './proc.ts';

export interface ChildHandle<Ready> {
  pid: number;
  ready: Ready;
  /** Resident memory right after the child said it was ready. */
  startMemory: MemoryStatus | null;
  request<T>(type: string, payload?: Record<string, unknown>): Promise<T>;
  memory(): MemoryStatus | null;
  cpuSeconds(): number;
  /** Asks the child to shut down cleanly; returns its peak memory, read just before it exits. */
  stop(): Promise<MemoryStatus | null>;
}

interface Reply {
  id?: number;
  type?: string;
  ok?: boolean;
  result?: unknown;
  error?: string;
}

export async function startChild<Ready>(entry: string, env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<ChildHandle<Ready>> {
  const child: ChildProcess = fork(entry, [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    for (const p of pending.values()) p.reject(new Error(`${entry} exited`));
    resolve();
  }));

  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not start within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with code ${code} before it was ready`));
    });
    child.on('message', (raw) => {
      const message = raw as Reply & Record<string, unknown>;
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message as unknown as Ready);
        return;
      }
      if (message.type === 'failed') {
        clearTimeout(timer);
        reject(new Error(`${entry} failed to start: ${String(message.error)}`));
        return;
      }
      const waiting = message.id === undefined ? undefined : pending.get(message.id);
      if (!waiting) return;
      pending.delete(message.id!);
      if (message.ok) waiting.resolve(message.result);
      else waiting.reject(new Error(message.error ?? 'child request failed'));
    });
  });

  const pid = child.pid!;
  return {
    pid,
    ready,
    startMemory: memoryOf(pid),
    request<T>(type: string, payload: Record<string, unknown> = {}) {
      if (exited) return Promise.reject(new Error(`${entry} is not running`));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ ...payload, id, type });
      });
    },
    memory: () => memoryOf(pid),
    cpuSeconds: () => cpuSecondsOf(pid),
    async stop() {
      const memory = memoryOf(pid);
      if (!exited) {
        child.send({ id: 0, type: 'stop' });
        const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exit;
        clearTimeout(killer);
      }
      return memory;
    },
  };
}

/** The child side: announce readiness and serve requests. */
export function serveParent(handlers: Record<string, (message: Record<string, unknown>) => Promise<unknown> | unknown>, ready: Record<string, unknown>): void {
  process.on('message', (raw) => {
    const message = raw as { id: number; type: string } & Record<string, unknown>;
    const handler = handlers[message.type];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown request ${message.type}`);
        return handler(message);
      })
      .then(
        (result) => process.send?.({ id: message.id, ok: true, result }),
        (error: Error) => process.send?.({ id: message.id, ok: false, error: error.message }),
      );
  });
  // If the benchmark goes away (Ctrl-C, a crash), so does the server it started.
  process.once('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', ...ready });
}

/** The child side: report a start-up failure and exit. */
export function failStart(error: unknown): void {
  const message = { type: 'failed', error: error instanceof Error ? error.stack ?? error.message : String(error) };
  if (process.send) process.send(message, () => process.exit(1));
  else process.exit(1);
}
