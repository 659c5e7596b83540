/**
 * Collects items into batches of at most `maxBatchSize`, sending a partial batch once its first
 * item has waited `maxWaitMs`, with at most `concurrency` batches running at once; while all
 * slots are busy, waiting partial batches merge. Each `add`
 * settles with its own item's result when its batch has run.
 */
export interface BatchLimits {
  maxBatchSize: number;
  maxWaitMs: number;
  concurrency: number;
}

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class Batcher<T, R> {
  private collecting: Pending<T, R>[] = [];
  /** Cancels the pending seal of a partial batch, when one is scheduled. */
  private cancelWait: (() => void) | undefined;
  private readonly ready: Pending<T, R>[][] = [];
  private running = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly limits: BatchLimits,
    /** Runs one batch; returns one result per item, in order. */
    private readonly runBatch: (items: T[]) => Promise<R[]>,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.collecting.push({ item, resolve, reject });
      if (this.collecting.length >= this.limits.maxBatchSize) this.seal();
      else this.cancelWait ??= this.scheduleSeal();
    });
  }

  /** Resolves once nothing is collecting, waiting or running. */
  async idle(): Promise<void> {
    this.seal();
    if (this.running === 0 && this.ready.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** maxWaitMs 0 seals once the current I/O round is done, so what arrived together goes together. */
  private scheduleSeal(): () => void {
    if (this.limits.maxWaitMs === 0) {
      const immediate = setImmediate(() => this.seal());
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(() => this.seal(), this.limits.maxWaitMs);
    return () => clearTimeout(timer);
  }

  private seal(): void {
    this.cancelWait?.();
    this.cancelWait = undefined;
    if (this.collecting.length > 0) this.ready.push(this.collecting);
    this.collecting = [];
    this.startReady();
  }

  private startReady(): void {
    while (this.running < this.limits.concurrency && this.ready.length > 0) {
      // Partial batches that queued up behind busy slots travel together, up to the size limit.
      let batch = this.ready.shift()!;
      while (this.ready.length > 0 && batch.length + this.ready[0]!.length <= this.limits.maxBatchSize) batch = batch.concat(this.ready.shift()!);
      this.running += 1;
      void this.run(batch);
    }
    if (this.running === 0 && this.ready.length === 0 && this.collecting.length === 0) {
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private async run(batch: Pending<T, R>[]): Promise<void> {
    try {
      const results = await this.runBatch(batch.map((pending) => pending.item));
      batch.forEach((pending, index) => pending.resolve(results[index]!));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      this.running -= 1;
      this.startReady();
    }
  }
}
