/**
 * The second half of `npm start` (after dependencies and services): migrate, make sure a
 * development API key exists, run the API and one worker as child processes, print a curl that
 * works as printed, and stop both cleanly on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { authenticateApiKey, createApiKey } from '@inferq/core/api-keys';
import { createDb } from '@inferq/core/db';
import { commonEnv, parseEnv } from '@inferq/core/env';
import { z } from 'zod';
import { applyMigrations } from '../prisma/migrate.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = parseEnv(
  z.object({
    DATABASE_URL: commonEnv.DATABASE_URL,
    PORT: z.coerce.number().int().min(1).max(65_535).default(8080),
    /** Where the development key is kept between runs. */
    INFERQ_DEV_KEY_FILE: z.string().min(1).default(path.join(root, '.inferq', 'dev-api-key')),
  }),
);
const keyFile = env.INFERQ_DEV_KEY_FILE;

/** The key saved by an earlier run if the database still knows it, else a new one for tenant "dev". */
async function developmentKey(): Promise<string> {
  const db = createDb(env.DATABASE_URL, 1);
  try {
    let saved: string | undefined;
    try {
      saved = readFileSync(keyFile, 'utf8').trim();
    } catch {
      saved = undefined;
    }
    if (saved && (await authenticateApiKey(db, saved))) return saved;
    const { key } = await createApiKey(db, 'dev');
    mkdirSync(path.dirname(keyFile), { recursive: true });
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
    return key;
  } finally {
    await db.$disconnect();
  }
}

function run(name: string, entry: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, entry)], { cwd: root, stdio: 'inherit', env: { ...process.env, PORT: String(env.PORT) } });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`inferq: the ${name} stopped unexpectedly (${signal ?? `exit ${code}`}); stopping.`);
      void stop(1);
    }
  });
  return child;
}

async function waitUntilReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the API did not become ready at ${url} within ${timeoutMs / 1000} s`);
}

let stopping = false;
const children: ChildProcess[] = [];
async function stop(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
  process.exit(exitCode);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

const { applied } = await applyMigrations({ databaseUrl: env.DATABASE_URL });
console.log(`inferq: database ready (${applied.length} migration(s) applied)`);
const key = await developmentKey();
children.push(run('API', 'apps/api/src/main.ts'), run('worker', 'apps/worker/src/main.ts'));
const base = `http://127.0.0.1:${env.PORT}`;
await waitUntilReady(`${base}/ready`, 60_000);

console.log(`
inferq is running: API ${base}, one worker with the embedded model local/sentiment. Ctrl-C stops both.
Development API key (tenant "dev", also in ${path.relative(root, keyFile)}): ${key}

Submit a job:
curl -s -X POST ${base}/v1/jobs -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' -d '{"model":"local/sentiment","input":{"text":"inferq makes async inference easy, I love it"}}'

Then fetch it with the id from the answer:
curl -s ${base}/v1/jobs/<id> -H 'Authorization: Bearer ${key}'
`);
