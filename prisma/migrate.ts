/**
 * inferq's migration runner: applies, creates and checks Prisma migrations with Prisma's schema
 * engine compiled to WebAssembly (@prisma/schema-engine-wasm), talking to Postgres through pg.
 *
 * Why it exists: `prisma migrate` needs Prisma's native schema engine, which the CLI downloads on
 * first use, and machines without network cannot download it. The WebAssembly build is the same
 * engine shipped on npm. It reads prisma/schema.prisma and prisma/migrations and records applied
 * migrations in `_prisma_migrations` exactly as Prisma does, so on a connected machine
 * `npx prisma migrate deploy|status` stays valid and agrees with this runner. `npm start`, the
 * tests and CI use this runner.
 *
 * Usage: DATABASE_URL=postgresql://… tsx prisma/migrate.ts deploy | create <name> | status
 */
import { readFile, readdir, mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import * as wasmBindings from '@prisma/schema-engine-wasm/schema_engine_bg';
import type {
  HistoryDiagnostic,
  MigrationList,
  SchemaEngine,
  SchemaFilter,
} from '@prisma/schema-engine-wasm/schema_engine_bg';

const prismaDir = path.dirname(fileURLToPath(import.meta.url));
const schemaPath = path.join(prismaDir, 'schema.prisma');
const migrationsDir = path.join(prismaDir, 'migrations');
const lockfileName = 'migration_lock.toml';
const noFilters: SchemaFilter = { externalTables: [], externalEnums: [] };

/** Serialises runners on one database. Prisma's engine locks 72707369 itself, so this must differ. */
const runnerLockKey = 72707370;

export interface RunnerOptions {
  databaseUrl: string;
  log?: (msg: string) => void;
}

export interface CreateMigrationOptions extends RunnerOptions {
  name: string;
}

/**
 * Brings the database up to date: creates it if missing, then applies pending migrations.
 * Concurrent callers on one database are serialised, so exactly one of them applies each migration.
 */
export async function applyMigrations({ databaseUrl, log = () => {} }: RunnerOptions): Promise<{ applied: string[] }> {
  await ensureDatabaseExists(databaseUrl, log);
  const migrationsList = await readMigrationsList();
  // The lock lives on a connection of its own: the engine spreads its queries over a pool.
  return withClient(databaseUrl, (lockConnection) =>
    withAdvisoryLock(lockConnection, () =>
      withEngine(databaseUrl, async (engine) => {
        const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList, filters: noFilters });
        for (const name of appliedMigrationNames) log(`Applied migration ${name}`);
        if (appliedMigrationNames.length === 0) log('No pending migrations');
        return { applied: appliedMigrationNames };
      }),
    ),
  );
}

/**
 * Writes prisma/migrations/<timestamp>_<name>/migration.sql with the SQL that takes the existing
 * migrations to prisma/schema.prisma. The engine's own createMigration cannot use a shadow database
 * in this build, so the SQL comes from a diff whose starting point is the migrations replayed into
 * a throwaway database (see connectToThrowawayDatabase).
 */
export async function createMigration({
  databaseUrl,
  name,
  log = console.log,
}: CreateMigrationOptions): Promise<{ directory: string | null }> {
  const directoryName = `${migrationTimestamp(new Date())}_${slugify(name)}`;
  await ensureLockfile();
  await ensureDatabaseExists(databaseUrl, log);
  const migrationsList = await readMigrationsList();
  const schema = { path: schemaPath, content: await readFile(schemaPath, 'utf8') };
  const { exitCode, stdout } = await withEngine(databaseUrl, (engine) =>
    engine.diff({
      from: { tag: 'migrations', ...migrationsList },
      to: { tag: 'schemaDatamodel', files: [schema] },
      script: true,
      exitCode: true,
      filters: noFilters,
    }),
  );
  // With exitCode requested, the engine answers 2 when the schemas differ and 0 when they match.
  if (exitCode !== 2 || !stdout) {
    log('No schema changes');
    return { directory: null };
  }
  const directory = path.join(migrationsDir, directoryName);
  await mkdir(directory);
  await writeFile(path.join(directory, 'migration.sql'), stdout, 'utf8');
  log(`Created prisma/migrations/${directoryName}/migration.sql`);
  return { directory };
}

/** Prints how the database's migration history compares with prisma/migrations. */
export async function migrationStatus({ databaseUrl, log = console.log }: RunnerOptions): Promise<void> {
  const migrationsList = await readMigrationsList();
  const diagnosis = await withEngine(databaseUrl, (engine) =>
    engine.diagnoseMigrationHistory({ migrationsList, filters: noFilters, optInToShadowDatabase: false }),
  );
  log(`${migrationsList.migrationDirectories.length} migration(s) in prisma/migrations`);
  if (!diagnosis.hasMigrationsTable) log('No _prisma_migrations table: the database has never been migrated');
  for (const name of diagnosis.failedMigrationNames) log(`Failed: ${name}`);
  for (const name of diagnosis.editedMigrationNames) log(`Edited after it was applied: ${name}`);
  if (diagnosis.history) log(describeHistory(diagnosis.history));
  else if (diagnosis.failedMigrationNames.length + diagnosis.editedMigrationNames.length === 0)
    log('Database schema is up to date');
}

function describeHistory(history: HistoryDiagnostic): string {
  const list = (names: string[]) => names.join(', ') || '(none)';
  switch (history.diagnostic) {
    case 'databaseIsBehind':
      return `Not yet applied: ${list(history.unappliedMigrationNames)}`;
    case 'migrationsDirectoryIsBehind':
      return `Applied but missing from prisma/migrations: ${list(history.unpersistedMigrationNames)}`;
    case 'historiesDiverge':
      return (
        `Histories diverge after ${history.lastCommonMigrationName ?? '(start)'}; ` +
        `not yet applied: ${list(history.unappliedMigrationNames)}; ` +
        `missing from prisma/migrations: ${list(history.unpersistedMigrationNames)}`
      );
  }
}

/** Prisma's lockfile, word for word, as `prisma migrate dev` writes it. */
async function ensureLockfile(): Promise<void> {
  await mkdir(migrationsDir, { recursive: true });
  const content =
    '# Please do not edit this file manually\n' +
    '# It should be added in your version-control system (e.g., Git)\n' +
    'provider = "postgresql"\n';
  await writeFile(path.join(migrationsDir, lockfileName), content, { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
}

/** The migrations folder in the shape the engine expects, directories in Prisma's order. */
async function readMigrationsList(): Promise<MigrationList> {
  const lockfileContent = await readFile(path.join(migrationsDir, lockfileName), 'utf8').catch(() => null);
  const entries = await readdir(migrationsDir, { withFileTypes: true }).catch(() => []);
  const directories = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b));
  return {
    baseDir: migrationsDir,
    lockfile: { path: lockfileName, content: lockfileContent },
    shadowDbInitScript: '',
    migrationDirectories: await Promise.all(
      directories.map(async (directory) => ({
        path: directory,
        migrationFile: {
          path: 'migration.sql',
          content: await readFile(path.join(migrationsDir, directory, 'migration.sql'), 'utf8').then(
            (value) => ({ tag: 'ok' as const, value }),
            (error: Error) => ({ tag: 'error' as const, value: error.message }),
          ),
        },
      })),
    ),
  };
}

/** Runs `work` with a schema engine connected to the database, then frees the engine and its connections. */
async function withEngine<T>(databaseUrl: string, work: (engine: SchemaEngine) => Promise<T>): Promise<T> {
  const { SchemaEngine } = await loadSchemaEngine();
  const pool = new pg.Pool(enginePoolConfig(databaseUrl));
  try {
    const factory = bindMigrationAwareSqlAdapterFactory(adapterFactory(pool, databaseUrl));
    const schema = await readFile(schemaPath, 'utf8');
    // The engine's log lines are progress chatter; its failures arrive as rejected promises.
    const ignoreEngineLog = () => {};
    const engine = await SchemaEngine.new({ datamodels: [[schemaPath, schema]] }, ignoreEngineLog, factory);
    try {
      return await work(engine);
    } finally {
      engine.free();
    }
  } finally {
    await pool.end();
  }
}

let schemaEngineModule: Promise<typeof wasmBindings> | undefined;

/** Node 20 cannot import .wasm modules, so the bindings are wired to the instance by hand, once per process. */
function loadSchemaEngine(): Promise<typeof wasmBindings> {
  schemaEngineModule ??= (async () => {
    const bindingsPath = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bytes = await readFile(path.join(path.dirname(bindingsPath), 'schema_engine_bg.wasm'));
    const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': withUnrefTimers(wasmBindings) });
    const exports = instance.exports as WebAssembly.Exports & { __wbindgen_start: () => void };
    wasmBindings.__wbg_set_wasm(exports);
    exports.__wbindgen_start();
    return wasmBindings;
  })();
  return schemaEngineModule;
}

/**
 * The engine never cancels its timers: the 10 s timeout of the advisory lock it takes in
 * applyMigrations outlives every apply and would hold the process open. Unreferenced, they cannot;
 * while the engine works, its open pool keeps the process alive.
 */
function withUnrefTimers(bindings: typeof wasmBindings): WebAssembly.ModuleImports {
  return Object.fromEntries(
    Object.entries(bindings).map(([name, value]) =>
      name.startsWith('__wbg_setTimeout_')
        ? [name, (callback: () => void, ms: number) => setTimeout(callback, ms >>> 0).unref()]
        : [name, value],
    ),
  );
}

/**
 * Describing a schema (create's diff), the engine reads catalog columns of type "char" (OID 18),
 * which the pg adapter cannot convert ("Column type 'char' could not be deserialized"), and name
 * (OID 19). Both arrive as plain text, so each connection relabels them text (OID 25) before pg
 * reads the row description.
 */
class EngineCompatibleClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.connection.prependListener('rowDescription', (message: { fields: pg.FieldDef[] }) => {
      for (const field of message.fields) {
        if (field.dataTypeID === 18 || field.dataTypeID === 19) field.dataTypeID = 25;
      }
    });
  }
}

function enginePoolConfig(databaseUrl: string): pg.PoolConfig {
  return { connectionString: databaseUrl, Client: EngineCompatibleClient };
}

/**
 * The pg adapter, with our own shadow database. PrismaPg's built-in one cannot be used here: it
 * builds its pool from the connection string, whose database name wins over the shadow one.
 */
function adapterFactory(pool: pg.Pool, databaseUrl: string): SqlMigrationAwareDriverAdapterFactory {
  const main = new PrismaPg(pool);
  return {
    provider: main.provider,
    adapterName: main.adapterName,
    connect: async () => withWholeScripts(await main.connect()),
    connectToShadowDb: () => connectToThrowawayDatabase(databaseUrl),
  };
}

/**
 * PrismaPg runs a script by splitting it at every `;`, which breaks on a semicolon inside a string
 * or a function body and leaves a failed migration half applied. Prisma's native engine sends the
 * whole script as one simple query, which Postgres runs as a single implicit transaction; a query
 * without parameters does the same here.
 */
function withWholeScripts<T extends SqlDriverAdapter>(adapter: T): T {
  adapter.executeScript = async (script) => {
    await adapter.executeRaw({ sql: script, args: [], argTypes: [] });
  };
  return adapter;
}

/** A fresh database on the same server, dropped when the engine disposes of the adapter. */
async function connectToThrowawayDatabase(databaseUrl: string): Promise<SqlDriverAdapter> {
  const name = `inferq_shadow_${randomUUID().replaceAll('-', '')}`;
  await withClient(maintenanceUrl(databaseUrl), (admin) => admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  const shadowPool = new pg.Pool(enginePoolConfig(withDatabaseName(databaseUrl, name)));
  const adapter = withWholeScripts(await new PrismaPg(shadowPool).connect());
  const disposeAdapter = adapter.dispose.bind(adapter);
  adapter.dispose = async () => {
    await disposeAdapter();
    await shadowPool.end();
    await withClient(maintenanceUrl(databaseUrl), (admin) => admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)}`));
  };
  return adapter;
}

async function ensureDatabaseExists(databaseUrl: string, log: (msg: string) => void): Promise<void> {
  const name = databaseName(databaseUrl);
  await withClient(maintenanceUrl(databaseUrl), (admin) =>
    // Runners creating the same database at once collide inside the catalog, so they take turns.
    withAdvisoryLock(admin, async () => {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (rowCount) return;
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      log(`Created database ${name}`);
    }),
  );
}

/** Holds a session advisory lock on `client` for the duration of `work`. */
async function withAdvisoryLock<T>(client: pg.Client, work: () => Promise<T>): Promise<T> {
  await client.query('SELECT pg_advisory_lock($1)', [runnerLockKey]);
  try {
    return await work();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [runnerLockKey]);
  }
}

async function withClient<T>(connectionString: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The server's `postgres` database, from where databases are created and dropped. */
function maintenanceUrl(databaseUrl: string): string {
  return withDatabaseName(databaseUrl, 'postgres');
}

function databaseName(databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  if (!name) throw new Error(`DATABASE_URL names no database: ${databaseUrl}`);
  return name;
}

function withDatabaseName(databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

/** UTC yyyymmddHHMMSS, as in Prisma's migration directory names. */
function migrationTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** Prisma's rule for directory names: snake_case, at most 200 characters. */
function slugify(name: string): string {
  const slug = name
    .replace(/([a-z\d])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z\d]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 200);
  if (!slug) throw new Error(`Migration name "${name}" has no letters or digits`);
  return slug;
}

/** The engine appends a trace of where it failed; of that, only the migration's name is worth a line. */
function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const traceStart = message.search(/\n\s*0: /);
  const summary = (traceStart < 0 ? message : message.slice(0, traceStart)).replace(/\s+/g, ' ').trim();
  const migration = /migration_name="([^"]+)"/.exec(message)?.[1];
  return migration ? `migration ${migration} failed: ${summary}` : summary;
}

async function main(argv: string[]): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/inferq';
  const [command, name] = argv;
  if (command === 'deploy') {
    const startedAt = performance.now();
    const { applied } = await applyMigrations({ databaseUrl, log: console.log });
    console.log(`${applied.length} migration(s) applied in ${Math.round(performance.now() - startedAt)} ms`);
  } else if (command === 'create' && name) {
    await createMigration({ databaseUrl, name });
  } else if (command === 'status') {
    await migrationStatus({ databaseUrl });
  } else {
    throw new Error('usage: tsx prisma/migrate.ts deploy | create <name> | status');
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`migrate: ${oneLine(error)}`);
    process.exitCode = 1;
  });
}
