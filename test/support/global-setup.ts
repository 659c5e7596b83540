import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { applyMigrations } from '../../prisma/migrate.ts';
import { createdAtOf, databaseUrl, testDatabaseName, testDatabasePrefix, withAdminClient } from './services.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}

const STALE_AFTER_MS = 2 * 60 * 60 * 1000;


/**
 * Once per test run: migrate a template database of this run's own with the project's migration
 * runner (the same step `npm start` uses), and drop databases that interrupted runs left behind
 * hours ago. Each test file then clones the template (CREATE DATABASE … TEMPLATE) in milliseconds.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const template = testDatabaseName('tpl', randomBytes(4).toString('hex'));
  await withAdminClient(async (client) => {
    const existing = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${testDatabasePrefix}%`]);
    for (const { datname } of existing.rows) {
      if (Date.now() - createdAtOf(datname) > STALE_AFTER_MS) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
  });
  await applyMigrations({ databaseUrl: databaseUrl(template) });
  project.provide('templateDatabase', template);
  return () => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`)).then(() => undefined);
}
