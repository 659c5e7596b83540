/**
 * Checks of the files users run inferq with under Docker Compose (docker-compose.yml, Dockerfile,
 * .dockerignore) that need no container engine:
 *  - dclint (an npm devDependency, so always available) lints docker-compose.yml against the
 *    Compose schema and its rules, with the project's .dclintrc;
 *  - the parsed file must honour inferq's contract: Redis never evicts and persists with AOF, the
 *    API waits for the migrations, workers can be scaled, every app service reaches Postgres and
 *    Redis by their service names;
 *  - the API healthcheck script is run against a stub server;
 *  - when Debian's `docker-compose` (v1.29) is installed, `docker-compose config` must accept the
 *    file too (skipped when the binary is absent).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { workerRoles } from '@inferq/worker/env';

const root = fileURLToPath(new URL('..', import.meta.url));
const composeFile = path.join(root, 'docker-compose.yml');
const compose = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as ComposeFile;

type ComposeFile = {
  version?: unknown;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};

type Service = {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  container_name?: string;
  command?: string | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  environment?: string[] | Record<string, string | number | boolean | null>;
  ports?: (string | number | { target?: number | string; published?: number | string; host_ip?: string })[];
  network_mode?: string;
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  deploy?: { replicas?: number };
  [key: string]: unknown;
};

/** Services that run inferq code: the ones built from this repository's Dockerfile. */
const APP_SERVICES = ['api', 'migrate', 'worker'];
const POSTGRES_IMAGE = 'postgres:16';
const REDIS_IMAGE = 'redis:7';

// ---------------------------------------------------------------------------------------------
// Helpers: Compose interpolation and normalisation of the short/long forms Compose accepts.

/**
 * Resolves Compose variable interpolation as it happens when none of the variables is set, i.e.
 * with the defaults written in the file: `${VAR:-default}` / `${VAR-default}` give the default,
 * `${VAR}` and `$VAR` give '', `$$` gives a literal `$`, `${VAR:?msg}` is an error.
 */
function interpolateDefaults(value: string): string {
  return value.replace(/\$(?:\$|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (match, braced?: string) => {
    if (match === '$$') return '$';
    if (braced === undefined) return '';
    const parsed = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$/s.exec(braced);
    if (!parsed) throw new Error(`invalid interpolation ${match}`);
    const [, name, operator, argument = ''] = parsed;
    if (operator === undefined || operator.endsWith('+')) return '';
    if (operator.endsWith('-')) return argument;
    throw new Error(`${match}: variable ${name} is required but has no default`);
  });
}

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  const entries: [string, string][] = Array.isArray(env)
    ? env.map((item) => {
        const index = item.indexOf('=');
        return index === -1 ? [item, ''] : [item.slice(0, index), item.slice(index + 1)];
      })
    : Object.entries(env).map(([key, value]) => [key, value === null ? '' : String(value)]);
  return Object.fromEntries(entries.map(([key, value]) => [key, interpolateDefaults(value)]));
}

function dependsOn(service: Service): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([name, dep]) => [name, dep?.condition ?? 'service_started']));
}

/** A command as argv (string commands are split on whitespace; enough for the ones checked here). */
function argv(command: string | string[] | undefined): string[] {
  if (command === undefined) return [];
  const parts = Array.isArray(command) ? command.map(String) : command.trim().split(/\s+/);
  return parts.map(interpolateDefaults);
}

/** The value given to a `--flag value` option; the last one wins, as for redis-server. */
function optionValue(args: string[], flag: string): string | undefined {
  let value: string | undefined;
  args.forEach((arg, index) => {
    if (arg === flag) value = args[index + 1];
  });
  return value;
}

type PublishedPort = { hostIp: string; published: string; target: string };

/** Parses `ports` entries (short `[ip:][host:]container[/proto]` or long syntax), with defaults. */
function publishedPorts(service: Service): PublishedPort[] {
  return (service.ports ?? []).map((entry) => {
    if (typeof entry === 'object') {
      return {
        hostIp: interpolateDefaults(String(entry.host_ip ?? '')),
        published: interpolateDefaults(String(entry.published ?? '')),
        target: interpolateDefaults(String(entry.target ?? '')),
      };
    }
    const spec = interpolateDefaults(String(entry)).replace(/\/(tcp|udp|sctp)$/, '');
    const parts = spec.split(':');
    const target = parts.pop() ?? '';
    const published = parts.pop() ?? '';
    return { hostIp: parts.join(':'), published, target };
  });
}

function namedVolumeMounts(service: Service): { source: string; target: string }[] {
  return (service.volumes ?? []).flatMap((entry) => {
    if (typeof entry === 'object') {
      return entry.type === 'volume' && entry.source ? [{ source: entry.source, target: entry.target ?? '' }] : [];
    }
    const [source = '', target = ''] = entry.split(':');
    return /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(source) ? [{ source, target }] : [];
  });
}

function service(name: string): Service {
  const found = compose.services?.[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

// ---------------------------------------------------------------------------------------------

type DclintResult = { filePath: string; messages: { rule: string; type: string; message: string; line: number }[] };

function runDclint(file: string): { status: number | null; results: DclintResult[]; output: string } {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('dclint/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin: string | Record<string, string> };
  const bin = path.resolve(path.dirname(pkgPath), typeof pkg.bin === 'string' ? pkg.bin : (pkg.bin.dclint ?? ''));
  const run = spawnSync(process.execPath, [bin, file, '--config', '.dclintrc', '--formatter', 'json', '--no-color'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.error) throw run.error;
  let results: DclintResult[] = [];
  try {
    results = JSON.parse(run.stdout) as DclintResult[];
  } catch {
    // Left empty: the assertions on status and output then show what dclint printed.
  }
  return { status: run.status, results, output: `${run.stdout}\n${run.stderr}` };
}

describe('docker-compose.yml lint (dclint)', () => {
  it('passes dclint with no errors or warnings', () => {
    const { status, results, output } = runDclint('docker-compose.yml');
    expect(results, output).toHaveLength(1);
    expect(results[0]?.messages, output).toEqual([]);
    expect(status, output).toBe(0);
  });

  it('makes dclint fail on a broken compose file (the lint check is not vacuous)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'inferq-dclint-'));
    try {
      const bad = path.join(dir, 'docker-compose.yml');
      writeFileSync(bad, "version: '3'\nservices:\n  web:\n    image: nginx\n    ports:\n      - '80:80'\n");
      const { status, results, output } = runDclint(bad);
      expect(status, output).not.toBe(0);
      expect(results[0]?.messages.filter((m) => m.type === 'error').length, output).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docker-compose.yml contract', () => {
  it('follows the Compose spec layout: no top-level version, the expected services', () => {
    expect(compose).not.toHaveProperty('version');
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'migrate', 'postgres', 'redis', 'worker']);
  });

  it('only depends on services and mounts only volumes that are declared', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const dep of Object.keys(dependsOn(svc))) expect(compose.services, `${name} depends on ${dep}`).toHaveProperty(dep);
      for (const { source } of namedVolumeMounts(svc)) expect(compose.volumes ?? {}, `${name} mounts ${source}`).toHaveProperty(source);
    }
  });

  it('runs postgres 16 with a pg_isready healthcheck and a named volume', () => {
    const postgres = service('postgres');
    expect(postgres.image).toBe(POSTGRES_IMAGE);
    expect(argv(postgres.healthcheck?.test).join(' ')).toContain('pg_isready');
    expect(namedVolumeMounts(postgres).map((m) => m.target)).toContain('/var/lib/postgresql/data');
    expect(environmentOf(postgres).POSTGRES_PASSWORD, 'postgres needs a password').toBeTruthy();
  });

  it('runs redis 7 with noeviction and AOF persistence (appendonly yes, appendfsync everysec)', () => {
    const redis = service('redis');
    expect(redis.image).toBe(REDIS_IMAGE);
    const args = argv(redis.command);
    expect(args[0]).toBe('redis-server');
    expect(optionValue(args, '--maxmemory-policy'), args.join(' ')).toBe('noeviction');
    expect(optionValue(args, '--appendonly'), args.join(' ')).toBe('yes');
    expect(optionValue(args, '--appendfsync'), args.join(' ')).toBe('everysec');
    expect(argv(redis.healthcheck?.test)).toEqual(expect.arrayContaining(['redis-cli', 'ping']));
    // AOF files live in the image's working directory, /data: it must be a persistent volume.
    expect(namedVolumeMounts(redis).map((m) => m.target)).toContain('/data');
  });

  it('builds one image from this repository for every app service', () => {
    const built = Object.entries(compose.services)
      .filter(([, svc]) => svc.build !== undefined)
      .map(([name]) => name)
      .sort();
    expect(built).toEqual(APP_SERVICES);
    const images = new Set(APP_SERVICES.map((name) => service(name).image));
    expect(images.size, 'migrate, api and worker share one image').toBe(1);
    for (const name of APP_SERVICES) {
      const { build } = service(name);
      const context = typeof build === 'string' ? build : (build?.context ?? '.');
      const dockerfile = typeof build === 'string' ? 'Dockerfile' : (build?.dockerfile ?? 'Dockerfile');
      expect(path.resolve(root, context), `${name} build context`).toBe(path.resolve(root));
      expect(existsSync(path.join(root, context, dockerfile)), `${name}: ${dockerfile} exists`).toBe(true);
      // build + image without a pull policy would make Compose try to pull the local tag first.
      expect(service(name).pull_policy, `${name} pull_policy`).toBe('build');
    }
  });

  it('gives every app service DATABASE_URL and REDIS_URL pointing at the compose services', () => {
    for (const name of APP_SERVICES) {
      const env = environmentOf(service(name));
      expect(env.DATABASE_URL, `${name} DATABASE_URL`).toBeTruthy();
      expect(env.REDIS_URL, `${name} REDIS_URL`).toBeTruthy();
      const db = new URL(env.DATABASE_URL ?? '');
      expect(db.protocol, `${name} DATABASE_URL`).toMatch(/^postgres(ql)?:$/);
      expect(db.hostname, `${name} DATABASE_URL host`).toBe('postgres');
      expect(db.port || '5432').toBe('5432');
      expect(db.pathname.length, `${name} DATABASE_URL names a database`).toBeGreaterThan(1);
      const redis = new URL(env.REDIS_URL ?? '');
      expect(redis.protocol, `${name} REDIS_URL`).toBe('redis:');
      expect(redis.hostname, `${name} REDIS_URL host`).toBe('redis');
      expect(redis.port || '6379').toBe('6379');
    }
    // The credentials in DATABASE_URL are the ones the postgres service is created with.
    const pgEnv = environmentOf(service('postgres'));
    const db = new URL(environmentOf(service('api')).DATABASE_URL ?? '');
    expect(decodeURIComponent(db.username)).toBe(pgEnv.POSTGRES_USER);
    expect(decodeURIComponent(db.password)).toBe(pgEnv.POSTGRES_PASSWORD);
  });

  it('runs migrations once, after postgres is healthy', () => {
    const migrate = service('migrate');
    expect(argv(migrate.command).join(' ')).toBe('npm run migrate');
    expect(dependsOn(migrate)).toMatchObject({ postgres: 'service_healthy' });
    expect(['no', undefined]).toContain(migrate.restart);
  });

  it('starts the api after migrate completed successfully and postgres/redis are healthy', () => {
    const api = service('api');
    expect(dependsOn(api)).toMatchObject({
      migrate: 'service_completed_successfully',
      postgres: 'service_healthy',
      redis: 'service_healthy',
    });
    expect(argv(api.command ?? ['node', '--import', 'tsx', 'apps/api/src/main.ts']).join(' ')).toBe(
      'node --import tsx apps/api/src/main.ts',
    );
  });

  it('publishes the api on port 8080, on loopback unless configured otherwise', () => {
    const api = service('api');
    const port = Number(environmentOf(api).PORT ?? 8080);
    expect(port).toBe(8080);
    const ports = publishedPorts(api);
    expect(ports).toHaveLength(1);
    // dclint cannot check an interpolated interface (its rule is disabled on that line): the
    // default must still bind to loopback.
    expect(ports[0]).toEqual({ hostIp: '127.0.0.1', published: '8080', target: String(port) });
  });

  it('keeps the worker scalable: no container_name, no published ports, same dependencies as the api', () => {
    const worker = service('worker');
    expect(worker).not.toHaveProperty('container_name');
    expect(worker.ports ?? []).toEqual([]);
    expect(worker.network_mode).toBeUndefined();
    expect(dependsOn(worker)).toMatchObject({
      migrate: 'service_completed_successfully',
      postgres: 'service_healthy',
      redis: 'service_healthy',
    });
    expect(argv(worker.command).join(' ')).toBe('node --import tsx apps/worker/src/main.ts');
    // Every role the worker knows, so a compose install delivers webhooks and reconciles out of the box.
    const roles = interpolateDefaults(environmentOf(worker).WORKER_ROLES ?? '').split(',').map((role) => role.trim());
    expect([...roles].sort()).toEqual([...workerRoles].sort());
  });
});

describe('api healthcheck', () => {
  const test = argv(service('api').healthcheck?.test);

  async function probe(status: number): Promise<{ exitCode: number | null; paths: string[] }> {
    const paths: string[] = [];
    const server: Server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      // The exec form ["CMD", "node", ...args]; run with this Node (the image's node is 20 too).
      const [, cmd, ...args] = test;
      expect(cmd).toBe('node');
      const proc = spawn(process.execPath, args, { env: { ...process.env, PORT: String(port) }, stdio: 'inherit' });
      const [exitCode] = (await once(proc, 'exit')) as [number | null];
      return { exitCode, paths };
    } finally {
      server.close();
    }
  }

  it('is an exec-form node probe (the image has no curl)', () => {
    expect(test[0]).toBe('CMD');
    expect(test[1]).toBe('node');
  });

  it('exits 0 when /ready answers 200', async () => {
    const { exitCode, paths } = await probe(200);
    expect(paths).toEqual(['/ready']);
    expect(exitCode).toBe(0);
  });

  it('exits non-zero when /ready answers 503', async () => {
    const { exitCode, paths } = await probe(503);
    expect(paths).toEqual(['/ready']);
    expect(exitCode).not.toBe(0);
  });
});

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));

  it('builds on node:20-bookworm-slim with an npm install and runs the api as a non-root user', () => {
    expect(instructions.filter((line) => /^FROM\s/i.test(line))).toEqual(['FROM node:20-bookworm-slim']);
    expect(instructions.some((line) => /^RUN\s.*\bnpm (ci|install)\b/i.test(line))).toBe(true);
    const users = instructions.filter((line) => /^USER\s/i.test(line));
    expect(users.at(-1)).toBeDefined();
    expect(users.at(-1)).not.toMatch(/^USER\s+(root|0)(:|\s|$)/i);
    const cmd = instructions.filter((line) => /^CMD\s/i.test(line)).at(-1) ?? '';
    expect(JSON.parse(cmd.replace(/^CMD\s+/i, ''))).toEqual(['node', '--import', 'tsx', 'apps/api/src/main.ts']);
  });

  it('keeps host dependencies, git data and local outputs out of the build context', () => {
    const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.git', '.inferq', 'bench/reports/tmp', 'coverage']));
  });
});

// ---------------------------------------------------------------------------------------------

const dockerComposeV1 = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' });
const hasDockerComposeV1 = !dockerComposeV1.error && dockerComposeV1.status === 0;

describe('docker-compose config (Compose v1, when installed)', () => {
  it.skipIf(!hasDockerComposeV1)('accepts the file and resolves the app services to postgres and redis', () => {
    // A clean environment, so only the defaults written in the file apply (docker-compose still
    // reads a .env file next to it, if a developer has one; only host names are compared).
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() };
    const run = spawnSync('docker-compose', ['--project-directory', root, '-f', composeFile, 'config'], {
      cwd: root,
      encoding: 'utf8',
      env,
      timeout: 60_000,
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const resolved = parse(run.stdout) as ComposeFile;
    for (const name of APP_SERVICES) {
      const appEnv = resolved.services[name]?.environment as Record<string, string>;
      expect(new URL(appEnv.DATABASE_URL ?? '').hostname).toBe('postgres');
      expect(new URL(appEnv.REDIS_URL ?? '').hostname).toBe('redis');
    }
    expect(argv(resolved.services.redis?.command)).toEqual(expect.arrayContaining(['--maxmemory-policy', 'noeviction']));
  });
});
