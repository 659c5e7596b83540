import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { applyMigrations } from '../../prisma/migrate.ts';
import { databaseUrl, testDatabaseName, withAdminClient } from './services.ts';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}


async function cloneTemplate(name: string, template: string): Promise<void> {
  await withAdminClient(async (client) => {
    // Cloning needs the template to be idle for a moment; another file's clone may be under way.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        return;
      } catch (err) {
        if (attempt >= 20 || !/being accessed by other users/.test((err as Error).message)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });
}

/**
 * A fresh, migrated database of its own: under vitest a clone of the run's template (fast);
 * elsewhere (the chaos and bench commands) created and migrated by the project's runner.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = testDatabaseName('db', randomBytes(6).toString('hex'));
  if (process.env.VITEST) await cloneTemplate(name, inject('templateDatabase'));
  else await applyMigrations({ databaseUrl: databaseUrl(name) });
  return {
    name,
    url: databaseUrl(name),
    drop: () => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}
