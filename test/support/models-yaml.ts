/** One `provider: openai` entry of a models file, pointing at the simulated upstream. */
export function upstreamModelYaml(name: string, upstreamUrl: string, settings: Record<string, string | number>, kind: 'chat' | 'embeddings' = 'embeddings'): string {
  const lines = { provider: 'openai', kind, baseUrl: `${upstreamUrl}/v1`, upstreamModel: `sim-${kind}`, ...settings };
  return `  - name: ${name}\n${Object.entries(lines).map(([key, value]) => `    ${key}: ${value}`).join('\n')}\n`;
}
