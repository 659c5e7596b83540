/**
 * The simulated upstream (test/upstream/server.ts) as a child of the bench. Unlike
 * test/upstream/main.ts it answers the parent over IPC with how many calls and items it served, which
 * is how the batching scenario measures upstream calls per job. Requests are one at a time.
 */
import { parseArgs } from 'node:util';
import { startUpstream } from '../../test/upstream/server.ts';

const { values } = parseArgs({ options: { 'latency-ms': { type: 'string' }, 'per-item-ms': { type: 'string' } } });
const upstream = await startUpstream({ port: 0, latencyMs: Number(values['latency-ms'] ?? 0), perItemMs: Number(values['per-item-ms'] ?? 0) });

process.on('message', (message: { type: string }) => {
  if (message.type === 'stats') {
    const ok = upstream.calls.filter((call) => call.status === 200);
    process.send!({ calls: ok.length, items: ok.reduce((sum, call) => sum + call.items, 0) });
  } else if (message.type === 'reset') {
    // The server keeps every call (with its body); clearing between phases keeps memory flat.
    upstream.reset();
    process.send!({});
  }
});
const shutdown = () => void upstream.close().then(() => process.exit(0));
process.once('SIGTERM', shutdown);
process.once('disconnect', shutdown);
process.send!({ url: upstream.url });
