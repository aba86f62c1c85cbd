/** Where the figures came from: the machine, the server, and how big the data was. */
import os from 'node:os';
import pg from 'pg';
import { readSettings } from './database.ts';

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  totalMemoryGb: number;
  os: string;
  node: string;
  postgres: string;
  postgresSettings: Record<string, string>;
  loadAverageAtStart: number[];
}

export async function machineInfo(ownerUrl: string): Promise<MachineInfo> {
  const settings = await readSettings(ownerUrl);
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ v: string }>('select version() as v');
    return {
      nproc: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      totalMemoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      postgres: rows[0]!.v,
      postgresSettings: settings,
      loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    };
  } finally {
    await client.end();
  }
}

export interface DataSize {
  databaseBytes: number;
  databaseSize: string;
  /** Exact row counts and total size (heap + indexes + TOAST, partitions included) of the tables that hold data. */
  tables: Array<{ table: string; rows: number; bytes: number; size: string }>;
}

export async function dataSize(ownerUrl: string): Promise<DataSize> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows: db } = await client.query<{ bytes: string; size: string }>(
      `select pg_database_size(current_database()) as bytes, pg_size_pretty(pg_database_size(current_database())) as size`,
    );
    const { rows: tables } = await client.query<{ table: string }>(
      `select c.oid::regclass::text as table
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition
       order by 1`,
    );
    const out: DataSize['tables'] = [];
    for (const { table } of tables) {
      const { rows } = await client.query<{ n: string; bytes: string; size: string }>(
        `select (select count(*) from ${table}) as n,
                sum(pg_total_relation_size(relid)) as bytes, pg_size_pretty(sum(pg_total_relation_size(relid))) as size
         from pg_partition_tree($1::regclass)`,
        [table],
      );
      const r = rows[0]!;
      if (Number(r.n) > 0) out.push({ table, rows: Number(r.n), bytes: Number(r.bytes), size: r.size });
    }
    return { databaseBytes: Number(db[0]!.bytes), databaseSize: db[0]!.size, tables: out.sort((a, b) => b.rows - a.rows) };
  } finally {
    await client.end();
  }
}
