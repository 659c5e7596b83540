import winkNlp from 'wink-nlp';
import model from 'wink-eng-lite-web-model';
import type { LocalModelConfig } from '@inferq/core/models';
import type { ItemResult, Provider } from './provider.ts';

// Loading the language model takes a moment and some memory: once per process, shared by both tasks.
let nlp: ReturnType<typeof winkNlp> | undefined;
const loadNlp = () => (nlp ??= winkNlp(model));

/** Scores within this distance of zero are called neutral. */
const NEUTRAL_BAND = 0.05;

const labelFor = (score: number): 'positive' | 'negative' | 'neutral' =>
  score > NEUTRAL_BAND ? 'positive' : score < -NEUTRAL_BAND ? 'negative' : 'neutral';

/** In-process English sentiment and entity recognition (wink-nlp): the embedded default model. */
export function createLocalProvider(config: LocalModelConfig): Provider {
  if (config.task === 'echo') {
    return { infer: async (inputs) => inputs.map((input) => ({ ok: true, output: input, usage: { input_tokens: 0, output_tokens: 0 } })) };
  }
  return {
    async infer(inputs) {
      // Loaded on first use: a worker that never runs a local model does not pay for it.
      const engine = loadNlp();
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
