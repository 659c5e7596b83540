import pg from 'pg';
import { applyMigrations } from '../../prisma/migrate.ts';
import { databaseUrl, templateDatabase, testDatabasePrefix } from './services.ts';

/**
 * Once per test run: migrate a template database with the project's own migration runner (the
 * same step `npm start` uses), and drop databases left behind by an interrupted earlier run.
 * Each test file then clones the template (CREATE DATABASE … TEMPLATE), which takes milliseconds.
 */
export default async function setup(): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl('postgres') });
  await admin.connect();
  try {
    const stale = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${testDatabasePrefix}%`]);
    for (const { datname } of stale.rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await admin.query(`DROP DATABASE IF EXISTS "${templateDatabase}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  await applyMigrations({ databaseUrl: databaseUrl(templateDatabase) });
}
