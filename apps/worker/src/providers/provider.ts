import type { JobError } from '@inferq/core/errors';

export interface Usage {
  input_tokens: number;
  output_tokens: number;
}

export type ItemResult = { ok: true; output: unknown; usage: Usage } | { ok: false; error: JobError };

/**
 * A model behind one call per batch. `infer` returns one result per input, in order; it throws a
 * JobError when the whole call failed (the same error then applies to every input).
 */
export interface Provider {
  infer(inputs: unknown[], signal: AbortSignal): Promise<ItemResult[]>;
}
