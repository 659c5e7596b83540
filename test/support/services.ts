import pg from 'pg';

/**
 * Where the tests find the machine's Postgres and Redis (real servers, real connections).
 * Override with TEST_POSTGRES_URL (a server URL; databases are created on it) and TEST_REDIS_URL.
 */
export const postgresServerUrl = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432';
export const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Test databases are named `inferq_t_<unix seconds>_<random>` so that a run can clear away what an
 * interrupted earlier run left behind without touching a run going on at the same time.
 */
export const testDatabasePrefix = 'inferq_t_';
export const testDatabaseName = (kind: 'tpl' | 'db', random: string): string => `${testDatabasePrefix}${Math.floor(Date.now() / 1000)}_${kind}_${random}`;
export const createdAtOf = (name: string): number => Number(name.slice(testDatabasePrefix.length).split('_')[0]) * 1000;

export const databaseUrl = (name: string): string => `${postgresServerUrl}/${name}`;

/** Runs `run` on a connection to the server's `postgres` database (to create and drop databases). */
export async function withAdminClient<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl('postgres') });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}
