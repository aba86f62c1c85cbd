import type { Database } from '../../src/db/database.ts';

export default async function globalTeardown(): Promise<void> {
  const db = (globalThis as { __PM_TEST_DB__?: Database }).__PM_TEST_DB__;
  await db?.close();
}
