import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { freePort } from './support/redis-server.ts';
import { redisUrl } from './support/services.ts';
import { startStack, type Stack } from './support/stack.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '..');

describe('npm start', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database?.drop());

  it('starts API and worker, prints a curl that works as printed, and stops cleanly on SIGINT', async () => {
    const port = await freePort();
    const child = spawn('npm', ['start'], {
      cwd: repoRoot,
      env: { ...process.env, PORT: String(port), DATABASE_URL: database.url, REDIS_URL: redisUrl, QUEUE_PREFIX: `start${port}`, LOG_LEVEL: 'info', INFERQ_DEV_KEY_FILE: path.join(mkdtempSync(path.join(tmpdir(), 'inferq-start-')), 'key') },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // 'close' waits for every process holding the output pipes: npm, the stack, the API and the worker.
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    try {
      const deadline = Date.now() + 90_000;
      while (!/\ncurl -s -X POST .*\n/.test(output) || !/\ncurl -s http.*\n/.test(output)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no curl line printed:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const submitLine = output.match(/\n(curl -s -X POST [^\n]*)\n/)![1]!;
      const submitted = JSON.parse((await run('bash', ['-c', submitLine])).stdout);
      expect(submitted).toMatchObject({ object: 'job', model: 'local/sentiment', status: 'queued' });

      const getLine = output.match(/\n(curl -s http[^\n]*)\n/)![1]!.replace('<id>', submitted.id);
      let job = submitted;
      for (let i = 0; i < 100 && job.status !== 'succeeded'; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        job = JSON.parse((await run('bash', ['-c', getLine])).stdout);
      }
      expect(job.status).toBe('succeeded');
      expect(job.output.label).toBe('positive');
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT');
    }
    const { code, signal } = await closed;
    // npm itself ends by the SIGINT it got (as on Ctrl-C in a terminal); what matters is that both processes stopped in order.
    expect(code === 0 || signal === 'SIGINT').toBe(true);
    expect(output).toContain('"msg":"api stopped"');
    expect(output).toContain('"msg":"worker stopped"');
    expect(output).not.toContain('stopped unexpectedly');
  }, 120_000);
});

describe('npx inferq keys create', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(() => stack?.close());

  it('prints a key as JSON that authenticates as the named tenant', async () => {
    const { stdout } = await run('npx', ['inferq', 'keys', 'create', '--tenant', 'acme', '--json'], { cwd: repoRoot, env: { ...process.env, DATABASE_URL: stack.database.url } });
    const created = JSON.parse(stdout);
    expect(created).toMatchObject({ tenant: 'acme', key: expect.stringMatching(/^iq_/) });
    const models = await stack.request('GET', '/v1/models', { apiKey: created.key });
    expect(models.status).toBe(200);
    const tenant = await stack.db.tenant.findUnique({ where: { name: 'acme' } });
    expect(tenant?.id).toBe(created.tenant_id);
    // Stored hashed: the plain key is nowhere in the table.
    const rows = await stack.db.apiKey.findMany({ where: { tenantId: tenant!.id } });
    expect(rows.map((row) => row.keyHash)).not.toContain(created.key);
  });

  it('reuses the tenant for a second key and refuses a missing --tenant with exit code 2', async () => {
    const first = JSON.parse((await run('npx', ['inferq', 'keys', 'create', '--tenant', 'reuse', '--json'], { cwd: repoRoot, env: { ...process.env, DATABASE_URL: stack.database.url } })).stdout);
    const second = JSON.parse((await run('npx', ['inferq', 'keys', 'create', '--tenant', 'reuse', '--json'], { cwd: repoRoot, env: { ...process.env, DATABASE_URL: stack.database.url } })).stdout);
    expect(second.tenant_id).toBe(first.tenant_id);
    expect(second.key).not.toBe(first.key);
    const failure = await run('npx', ['inferq', 'keys', 'create'], { cwd: repoRoot, env: { ...process.env, DATABASE_URL: stack.database.url } }).catch((err: { code: number; stderr: string }) => err);
    expect((failure as { code: number }).code).toBe(2);
    expect((failure as { stderr: string }).stderr).toMatch(/--tenant/);
  });
});
