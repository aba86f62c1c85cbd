/**
 * One `npm start` per data folder: the embedded PostgreSQL of a folder
 * belongs to the process that started it, and stops with it, so a second
 * process on the same folder would lose its database when the first one
 * stops. The lock is a file holding the owner's pid; a lock whose process is
 * gone (a crash, kill -9) is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserFacingError } from '../user-facing-error.ts';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Takes the data folder's lock for this process; returns its release. Throws a UserFacingError while another live process holds it. */
export function lockDataFolder(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'penguinmails.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => {
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new UserFacingError(
          `another PenguinMails (pid ${pid}) is running on the data folder ${path.resolve(dataDir)}: stop it first, or set PM_DATA_DIR to another folder (or DATABASE_URL to a shared database).`,
        );
      }
      rmSync(file, { force: true }); // left by a process that is gone
    }
  }
  throw new UserFacingError(`could not lock the data folder ${path.resolve(dataDir)} (${file}).`);
}
