/** Runs jest (as `npm run test:jest` does) with extra environment; resolves to its exit code. */
import { spawn } from 'node:child_process';

export function runJest(args: string[], env: Record<string, string>): Promise<number> {
  const jest = spawn(process.execPath, ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', ...args], {
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  return new Promise<number>((resolve) => jest.on('exit', (c) => resolve(c ?? 1)));
}
