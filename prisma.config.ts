import { defineConfig } from 'prisma/config';

// Used by the Prisma CLI (generate; migrate on machines that can download its engine).
// inferq's own runner, prisma/migrate.ts, reads the same schema and migrations folder.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/inferq' },
});
