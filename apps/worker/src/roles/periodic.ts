import type { Logger } from '@inferq/core/logger';

/**
 * Runs `round` every `intervalMs` (measured from the end of the previous round, so rounds never
 * overlap) until closed; a failed round is logged and the next one runs as planned.
 */
export function runPeriodically(round: () => Promise<unknown>, intervalMs: number, logger: Logger, name: string) {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      current = round()
        .catch((err: unknown) => logger.error({ err }, `${name} round failed`))
        .finally(schedule);
    }, intervalMs);
  };
  schedule();
  return {
    /** Stops scheduling and waits for a round under way. */
    async close(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
