import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * The model catalog: which models exist, who serves them, and how their work is batched.
 * The two local models are built in (the embedded default needs nothing external); a YAML file
 * (INFERQ_MODELS_FILE) adds upstream models or retunes the built-in ones.
 */

const modelName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/, 'letters, digits and . _ / - only, at most 128 characters');

const limits = {
  /** Jobs per upstream call. */
  maxBatchSize: z.int().min(1).max(4096).default(32),
  /** How long a partial batch waits for more jobs before it is sent. */
  maxWaitMs: z.int().min(0).max(60_000).default(10),
  /** Upstream calls in flight at once, per worker process. */
  concurrency: z.int().min(1).max(1024).default(4),
  /** One upstream call's time limit. */
  timeoutMs: z.int().min(100).max(3_600_000).default(60_000),
  /** HTTP-level retries of one call on 5xx, 429 and timeouts (Retry-After honoured). */
  retries: z.int().min(0).max(10).default(2),
  /** Times a job is handed to a worker before it fails for good. */
  maxAttempts: z.int().min(1).max(20).default(3),
};

const localModel = z.strictObject({
  name: modelName,
  provider: z.literal('local'),
  /** `echo` returns its input at no cost: for benchmarks that measure inferq itself. */
  task: z.enum(['sentiment', 'entities', 'echo']),
  ...limits,
});

const openaiModel = z.strictObject({
  name: modelName,
  provider: z.literal('openai'),
  kind: z.enum(['chat', 'embeddings']),
  /** OpenAI-compatible base URL, e.g. https://api.openai.com/v1 or http://vllm:8000/v1. */
  baseUrl: z.url({ protocol: /^https?$/ }),
  upstreamModel: z.string().min(1),
  /** Name of the environment variable holding the upstream API key (optional for local servers). */
  apiKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
  ...limits,
});

export const modelConfigSchema = z.discriminatedUnion('provider', [localModel, openaiModel]);
export type ModelConfig = z.output<typeof modelConfigSchema>;
export type LocalModelConfig = z.output<typeof localModel>;
export type OpenAiModelConfig = z.output<typeof openaiModel>;

const modelsFileSchema = z.strictObject({ models: z.array(modelConfigSchema) }).superRefine((file, ctx) => {
  const seen = new Set<string>();
  file.models.forEach((model, index) => {
    if (seen.has(model.name)) ctx.addIssue({ code: 'custom', path: ['models', index, 'name'], message: `duplicate model name "${model.name}"` });
    seen.add(model.name);
  });
});

const builtInModels: ModelConfig[] = [
  localModel.parse({ name: 'local/sentiment', provider: 'local', task: 'sentiment', maxBatchSize: 64, maxWaitMs: 5, concurrency: 1, timeoutMs: 10_000, retries: 0 }),
  localModel.parse({ name: 'local/entities', provider: 'local', task: 'entities', maxBatchSize: 64, maxWaitMs: 5, concurrency: 1, timeoutMs: 10_000, retries: 0 }),
];

export type ModelCatalog = ReadonlyMap<string, ModelConfig>;

/** Built-in models, overridden or extended by the models file when one is given. */
export function loadModelCatalog(modelsFile?: string): ModelCatalog {
  const catalog = new Map(builtInModels.map((model) => [model.name, model]));
  if (!modelsFile) return catalog;
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(modelsFile, 'utf8'));
  } catch (err) {
    throw new Error(`Cannot read models file ${modelsFile}: ${(err as Error).message}`);
  }
  const parsed = modelsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid models file ${modelsFile}:\n${lines.join('\n')}`);
  }
  for (const model of parsed.data.models) catalog.set(model.name, model);
  return catalog;
}

const text = (max: number) => z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

const chatInput = z.strictObject({
  messages: z
    .array(z.strictObject({ role: z.enum(['system', 'user', 'assistant']), content: text(200_000) }))
    .min(1)
    .max(512),
  max_tokens: z.int().min(1).max(1_000_000).optional(),
  temperature: z.number().min(0).max(2).optional(),
});

const localInput = z.strictObject({ text: text(10_000) });
const embeddingsInput = z.strictObject({ text: text(100_000) });

/**
 * The input a model accepts; checked at submit so bad input never reaches a worker. The schemas
 * are built once: zod compiles each schema on first use, which would dominate a bulk submit if
 * it happened per job.
 */
export function inputSchemaFor(model: ModelConfig): z.ZodType {
  if (model.provider === 'local') return localInput;
  return model.kind === 'chat' ? chatInput : embeddingsInput;
}

/** What `GET /v1/models` shows: no base URLs or key names. */
export function describeModel(model: ModelConfig) {
  return {
    id: model.name,
    object: 'model' as const,
    provider: model.provider,
    task: model.provider === 'local' ? model.task : model.kind,
    batching: { max_batch_size: model.maxBatchSize, max_wait_ms: model.maxWaitMs, concurrency: model.concurrency },
    timeout_ms: model.timeoutMs,
    max_attempts: model.maxAttempts,
  };
}

/**
 * A job's input size in units, as rate limits and budgets count it before the model has run:
 * tokens estimated as characters / 4 (at least 1).
 */
export function inputUnitsOf(input: unknown): number {
  const value = input as { text?: string; messages?: { content: string }[] };
  const characters = typeof value.text === 'string' ? value.text.length : (value.messages ?? []).reduce((sum, message) => sum + message.content.length, 0);
  return Math.max(1, Math.ceil(characters / 4));
}
