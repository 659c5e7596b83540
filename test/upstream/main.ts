/**
 * Runs the simulated OpenAI-compatible upstream as a standalone process (for the benchmark, or by hand):
 *
 *   tsx test/upstream/main.ts --port 0 --latency-ms 50 --per-item-ms 0.5
 *
 * Once listening it prints one JSON line, {"url":"http://127.0.0.1:PORT"}, on stdout, so a parent process
 * can read the address; it closes the server and exits 0 on SIGTERM or SIGINT.
 * Other options: --fail-rate, --rate-limit-rate, --retry-after-seconds, --hang-rate (see UpstreamBehaviour)
 * and --api-key.
 */
import { parseArgs } from 'node:util';
import { startUpstream, type UpstreamOptions } from './server.ts';

const NUMERIC_OPTIONS = {
  port: 'port',
  'latency-ms': 'latencyMs',
  'per-item-ms': 'perItemMs',
  'fail-rate': 'failRate',
  'rate-limit-rate': 'rateLimitRate',
  'retry-after-seconds': 'retryAfterSeconds',
  'hang-rate': 'hangRate',
} as const;

function parseOptions(args: string[]): UpstreamOptions {
  const flags: Record<string, { type: 'string' }> = { 'api-key': { type: 'string' } };
  for (const flag of Object.keys(NUMERIC_OPTIONS)) flags[flag] = { type: 'string' };
  const values = parseArgs({ args, options: flags }).values as Record<string, string | undefined>;

  const options: UpstreamOptions = { apiKey: values['api-key'] };
  for (const [flag, key] of Object.entries(NUMERIC_OPTIONS)) {
    const text = values[flag];
    if (text === undefined) continue;
    const value = Number(text);
    // Number('') is 0, so an empty value would silently pass without the trim check.
    if (text.trim() === '' || Number.isNaN(value)) {
      throw new Error(`--${flag} must be a number, got ${JSON.stringify(text)}`);
    }
    options[key] = value;
  }
  return options;
}

try {
  const upstream = await startUpstream(parseOptions(process.argv.slice(2)));
  const shutdown = () => void upstream.close();
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  process.stdout.write(`${JSON.stringify({ url: upstream.url })}\n`);
} catch (error) {
  // Bad flags, invalid behaviour values or a taken port: a one-line reason is more useful than a stack.
  console.error(`upstream-sim: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
}
