import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './db/generated/client.ts';

export { Prisma } from './db/generated/client.ts';

export type Db = InstanceType<typeof PrismaClient>;
export type { Job, Tenant, ApiKey } from './db/generated/client.ts';
export { JobStatus, JobPriority } from './db/generated/enums.ts';

/** Prisma over node-postgres (driver adapter: no native query engine needed). */
export function createDb(databaseUrl: string, poolSize: number): Db {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl, max: poolSize }) });
}
