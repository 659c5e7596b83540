import type WinkNlp from 'wink-nlp';
import type { LocalModelConfig } from '@inferq/core/models';
import type { ItemResult, Provider } from './provider.ts';

type Nlp = ReturnType<typeof WinkNlp>;

// The language model takes a second and ~25 MB to load: once per process, shared by both tasks,
// and only in a process that serves a local model (hence the dynamic imports).
let nlp: Promise<Nlp> | undefined;
const loadNlp = (): Promise<Nlp> =>
  (nlp ??= Promise.all([import('wink-nlp'), import('wink-eng-lite-web-model')]).then(([wink, model]) => wink.default(model.default)));

/** Scores within this distance of zero are called neutral. */
const NEUTRAL_BAND = 0.05;

const labelFor = (score: number): 'positive' | 'negative' | 'neutral' =>
  score > NEUTRAL_BAND ? 'positive' : score < -NEUTRAL_BAND ? 'negative' : 'neutral';

/** In-process English sentiment and entity recognition (wink-nlp): the embedded default model. */
export function createLocalProvider(config: LocalModelConfig): Provider {
  if (config.task === 'echo') {
    return { infer: async (inputs) => inputs.map((input) => ({ ok: true, output: input, usage: { input_tokens: 0, output_tokens: 0 } })) };
  }
  // Start loading now, so the first batch does not wait for it; a failure surfaces in that batch.
  const ready = loadNlp();
  ready.catch(() => undefined);
  return {
    async infer(inputs) {
      const engine = await ready;
      const its = engine.its;
      return inputs.map((input): ItemResult => {
        const doc = engine.readDoc((input as { text: string }).text);
        const usage = { input_tokens: doc.tokens().length(), output_tokens: 0 };
        if (config.task === 'sentiment') {
          const score = Number(doc.out(its.sentiment));
          return { ok: true, output: { score, label: labelFor(score) }, usage };
        }
        const entities = doc.entities().out(its.detail) as unknown as { value: string; type: string }[];
        return { ok: true, output: { entities: entities.map(({ value, type }) => ({ value, type })) }, usage };
      });
    },
  };
}
