/**
 * Where the tests find the machine's Postgres and Redis (real servers, real connections).
 * Override with TEST_POSTGRES_URL (a server URL; databases are created on it) and TEST_REDIS_URL.
 */
export const postgresServerUrl = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432';
export const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const templateDatabase = 'inferq_test_template';
export const testDatabasePrefix = 'inferq_t_';

export const databaseUrl = (name: string): string => `${postgresServerUrl}/${name}`;
