import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import got, { HTTPError, RequestError, TimeoutError, type Got } from 'got';
import { JobError } from '@inferq/core/errors';
import { parseRetryAfterMs } from '@inferq/core/retry-after';
import type { OpenAiModelConfig } from '@inferq/core/models';
import type { ItemResult, Provider, Usage } from './provider.ts';

interface ChatInput {
  messages: { role: string; content: string }[];
  max_tokens?: number;
  temperature?: number;
}

interface ChatResponse {
  choices: { message: { role: string; content: string }; finish_reason: string }[];
  usage?: { prompt_tokens: number; completion_tokens: number };
}

interface EmbeddingsResponse {
  data: { index: number; embedding: number[] }[];
  usage?: { prompt_tokens: number };
}

/** The longest pause between two HTTP retries of one call (a Retry-After may ask for up to the timeout). */
export const HTTP_RETRY_BACKOFF_LIMIT_MS = 10_000;

/** What a failed call means for the job: retry later (and when), or give up with the upstream's reason. */
export function toJobError(err: unknown): JobError {
  if (err instanceof HTTPError) {
    const status = err.response.statusCode;
    const body = String(err.response.body ?? '').slice(0, 500);
    if (status === 429) return new JobError('upstream_rate_limited', `upstream rate limit (429): ${body}`, true, parseRetryAfterMs(err.response.headers['retry-after']));
    if (status >= 500 || status === 408) return new JobError('upstream_error', `upstream answered ${status}: ${body}`, true, parseRetryAfterMs(err.response.headers['retry-after']));
    return new JobError('upstream_rejected', `upstream refused the request (${status}): ${body}`, false);
  }
  if (err instanceof TimeoutError) return new JobError('upstream_timeout', `upstream did not answer in time (${err.message})`, true);
  if (err instanceof RequestError) return new JobError('upstream_error', `upstream unreachable: ${err.code ?? err.message}`, true);
  return new JobError('upstream_error', `upstream call failed: ${(err as Error).message}`, true);
}

/**
 * Any OpenAI-compatible server (OpenAI, vLLM, Ollama, TGI, LiteLLM). Embeddings go up as one
 * array call per batch; chat models take one call per job, all of a batch at once. Calls use
 * keep-alive and got's retry, which waits out Retry-After on 429/503 up to the call's timeout.
 */
export function createOpenAiProvider(config: OpenAiModelConfig, apiKey: string | undefined): Provider {
  const agent = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  const client: Got = got.extend({
    prefixUrl: config.baseUrl.replace(/\/?$/, '/'),
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
    agent,
    timeout: { request: config.timeoutMs },
    retry: {
      limit: config.retries,
      methods: ['POST'],
      statusCodes: [408, 429, 500, 502, 503, 504],
      maxRetryAfter: config.timeoutMs,
      backoffLimit: HTTP_RETRY_BACKOFF_LIMIT_MS,
    },
    responseType: 'json',
  });

  const embed = async (inputs: unknown[], signal: AbortSignal): Promise<ItemResult[]> => {
    const texts = inputs.map((input) => (input as { text: string }).text);
    const response = await client
      .post('embeddings', { json: { model: config.upstreamModel, input: texts }, signal })
      .json<EmbeddingsResponse>();
    const byIndex = new Map(response.data.map((item) => [item.index, item.embedding]));
    // The upstream reports tokens for the whole call; share them out by text length.
    const totalTokens = response.usage?.prompt_tokens ?? 0;
    const totalChars = texts.reduce((sum, text) => sum + text.length, 0) || 1;
    return texts.map((text, index): ItemResult => {
      const embedding = byIndex.get(index);
      if (!embedding) return { ok: false, error: new JobError('upstream_error', `upstream returned no embedding for item ${index}`, true) };
      return { ok: true, output: { embedding }, usage: { input_tokens: Math.round((totalTokens * text.length) / totalChars), output_tokens: 0 } };
    });
  };

  const chatOne = async (input: ChatInput, signal: AbortSignal): Promise<ItemResult> => {
    try {
      const response = await client
        .post('chat/completions', { json: { model: config.upstreamModel, ...input }, signal })
        .json<ChatResponse>();
      const choice = response.choices[0];
      if (!choice) return { ok: false, error: new JobError('upstream_error', 'upstream returned no choices', true) };
      const usage: Usage = { input_tokens: response.usage?.prompt_tokens ?? 0, output_tokens: response.usage?.completion_tokens ?? 0 };
      return { ok: true, output: { message: choice.message, finish_reason: choice.finish_reason }, usage };
    } catch (err) {
      return { ok: false, error: toJobError(err) };
    }
  };

  return {
    async infer(inputs, signal) {
      if (config.kind === 'chat') return Promise.all(inputs.map((input) => chatOne(input as ChatInput, signal)));
      try {
        return await embed(inputs, signal);
      } catch (err) {
        throw toJobError(err);
      }
    },
  };
}
