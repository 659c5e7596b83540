/**
 * Tests of the migration runner (prisma/migrate.ts) against fresh databases on the test server:
 * it must create the database, apply prisma/migrations, record them in `_prisma_migrations`
 * exactly as Prisma does (so `prisma migrate deploy` agrees), be idempotent, and be safe when
 * several processes start at once.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { applyMigrations } from '../prisma/migrate.ts';

const serverUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/inferq';
const migrationsDir = fileURLToPath(new URL('../prisma/migrations/', import.meta.url));

const createdDatabases: string[] = [];
afterAll(() =>
  withClient(databaseUrl('postgres'), async (client) => {
    for (const name of createdDatabases) await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  }),
);

/** The URL of a database that does not exist yet, dropped after the tests. */
function freshDatabaseUrl(): string {
  const name = `inferq_migrate_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  createdDatabases.push(name);
  return databaseUrl(name);
}

function databaseUrl(name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** What Prisma records for each migration directory: its name and the sha256 of its migration.sql. */
async function expectedMigrationRows(): Promise<{ migration_name: string; checksum: string }[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const names = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  return Promise.all(
    names.map(async (name) => ({
      migration_name: name,
      checksum: createHash('sha256')
        .update(await readFile(path.join(migrationsDir, name, 'migration.sql')))
        .digest('hex'),
    })),
  );
}

async function recordedMigrations(url: string) {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY migration_name',
    );
    return rows;
  });
}

async function expectRecordedExactlyOnce(url: string): Promise<void> {
  const expected = await expectedMigrationRows();
  const recorded = await recordedMigrations(url);
  expect(recorded.map(({ migration_name, checksum }) => ({ migration_name, checksum }))).toEqual(expected);
  for (const row of recorded) {
    expect(row.finished_at).not.toBeNull();
    expect(row.rolled_back_at).toBeNull();
  }
}

describe('applyMigrations', () => {
  const url = freshDatabaseUrl();

  it('creates a missing database and applies every migration, recorded as Prisma records it', async () => {
    const expected = await expectedMigrationRows();
    expect(expected.length).toBeGreaterThan(0);

    const { applied } = await applyMigrations({ databaseUrl: url });

    expect(applied).toEqual(expected.map((row) => row.migration_name));
    await expectRecordedExactlyOnce(url);
    const tables = await withClient(url, async (client) => {
      const { rows } = await client.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
      return rows.map((row) => row.tablename);
    });
    expect(tables).toEqual(expect.arrayContaining(['tenants', 'api_keys', 'jobs', '_prisma_migrations']));
  });

  it('applies nothing when the database is up to date', async () => {
    const { applied } = await applyMigrations({ databaseUrl: url });

    expect(applied).toEqual([]);
    await expectRecordedExactlyOnce(url);
  });

  it('lets concurrent runners on one database apply each migration once', async () => {
    const concurrentUrl = freshDatabaseUrl();
    const expected = await expectedMigrationRows();

    const results = await Promise.all([
      applyMigrations({ databaseUrl: concurrentUrl }),
      applyMigrations({ databaseUrl: concurrentUrl }),
    ]);

    const appliedByEach = results.map((result) => result.applied);
    expect(appliedByEach).toContainEqual(expected.map((row) => row.migration_name));
    expect(appliedByEach).toContainEqual([]);
    await expectRecordedExactlyOnce(concurrentUrl);
  });
});
