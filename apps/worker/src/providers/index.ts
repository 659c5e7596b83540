import type { ModelConfig } from '@inferq/core/models';
import { createLocalProvider } from './local.ts';
import { createOpenAiProvider } from './openai.ts';
import type { Provider } from './provider.ts';

/** The provider serving a model; an upstream model's API key is read from its named variable. */
export function createProvider(model: ModelConfig, env: NodeJS.ProcessEnv): Provider {
  if (model.provider === 'local') return createLocalProvider(model);
  const apiKey = model.apiKeyEnv ? env[model.apiKeyEnv] : undefined;
  if (model.apiKeyEnv && !apiKey) throw new Error(`Model ${model.name}: environment variable ${model.apiKeyEnv} (its API key) is not set`);
  return createOpenAiProvider(model, apiKey);
}
