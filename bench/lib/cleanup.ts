/**
 * Everything the bench starts registers how to undo it here, so processes, the private Redis and
 * bench databases go away on success, on a thrown error and on Ctrl-C alike.
 */
type Undo = { label: string; run: () => Promise<unknown> };

const stack: Undo[] = [];
let aborting = false;

/** True once a signal asked the bench to stop: no scenario should start after that. */
export const aborted = (): boolean => aborting;

/**
 * Registers an undo step; returns a function that runs it now (once) and unregisters it. After a
 * signal, whatever a scenario still manages to start is undone at once instead.
 */
export function onCleanup(label: string, run: () => Promise<unknown>): () => Promise<void> {
  if (aborting) {
    void run().catch(() => undefined);
    return async () => undefined;
  }
  const undo: Undo = { label, run };
  stack.push(undo);
  return async () => {
    const index = stack.indexOf(undo);
    if (index === -1) return;
    stack.splice(index, 1);
    await undo.run();
  };
}

/** Runs every registered step, newest first; a failing step is reported and the rest still run. */
export async function cleanupAll(): Promise<void> {
  while (stack.length > 0) {
    const undo = stack.pop()!;
    try {
      await withDeadline(undo.run(), 15_000);
    } catch (err) {
      process.stderr.write(`bench: cleanup "${undo.label}" failed: ${(err as Error).message}\n`);
    }
  }
}

async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Ctrl-C or a kill still tears everything down before the process exits. */
export function cleanupOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench: ${signal}, cleaning up\n`);
      // The scenario still running fails as its processes and pools go away; that is expected now.
      process.on('unhandledRejection', () => undefined);
      aborting = true;
      void cleanupAll().finally(() => process.exit(130));
    });
  }
}
