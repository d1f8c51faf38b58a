import { pathToFileURL } from 'node:url'
import type { LanguageModel } from 'ai'

/** The built-in AI agent's model, as configured by environment (runtimeConfig.ai). */
export interface AiConfig {
  /** NUXT_DURABLE_SESSIONS_AI_MODEL: `anthropic:<model>`, `openai:<model>` or `openai-compatible:<model>`. */
  model: string
  /** NUXT_DURABLE_SESSIONS_AI_BASE_URL: the OpenAI-compatible server, e.g. http://localhost:11434/v1 for Ollama. */
  baseUrl: string
  /** NUXT_DURABLE_SESSIONS_AI_API_KEY: that server's key, if it wants one. */
  apiKey: string
  /**
   * NUXT_DURABLE_SESSIONS_AI_TEST_MODELS: a module of scripted models for tests (`test:<scenario>`). Never set in
   * production: without it `test:` is refused, and the module is not part of the build.
   */
  testModels: string
}

export type AiProvider = 'anthropic' | 'openai' | 'openai-compatible' | 'test'

export interface AiModelSpec {
  provider: AiProvider
  modelId: string
}

export const AI_SETUP = 'Set NUXT_DURABLE_SESSIONS_AI_MODEL to anthropic:<model> (with ANTHROPIC_API_KEY), openai:<model> (with OPENAI_API_KEY), '
  + 'or openai-compatible:<model> with NUXT_DURABLE_SESSIONS_AI_BASE_URL (and NUXT_DURABLE_SESSIONS_AI_API_KEY if it needs one) for Ollama, vLLM, LM Studio or a gateway, and restart the server'

const PROVIDERS = new Set<string>(['anthropic', 'openai', 'openai-compatible', 'test'])

/** The configured model, or what is missing or wrong (a sentence naming the variable to fix). */
export function parseAiConfig(config: AiConfig): { spec: AiModelSpec } | { problem: string } {
  if (!config.model) return { problem: `No AI model is configured. ${AI_SETUP}.` }
  const separator = config.model.indexOf(':')
  const provider = config.model.slice(0, separator)
  const modelId = config.model.slice(separator + 1).trim()
  if (separator < 0 || !PROVIDERS.has(provider) || !modelId)
    return { problem: `NUXT_DURABLE_SESSIONS_AI_MODEL=${JSON.stringify(config.model)} is not <provider>:<model>. ${AI_SETUP}.` }
  if (provider === 'openai-compatible' && !URL.canParse(config.baseUrl))
    return { problem: 'NUXT_DURABLE_SESSIONS_AI_MODEL=openai-compatible:… needs NUXT_DURABLE_SESSIONS_AI_BASE_URL, the server\'s OpenAI-compatible API (e.g. http://localhost:11434/v1).' }
  if (provider === 'test' && !config.testModels)
    return { problem: 'NUXT_DURABLE_SESSIONS_AI_MODEL=test:… is for the test suite only and needs NUXT_DURABLE_SESSIONS_AI_TEST_MODELS.' }
  return { spec: { provider: provider as AiProvider, modelId } }
}

/**
 * The language model of a spec. The providers read their own key variables (ANTHROPIC_API_KEY,
 * OPENAI_API_KEY). Each provider is imported when its model is first loaded: a server without
 * the AI agent never loads them (they cost tens of MB of memory).
 */
export async function loadAiModel(spec: AiModelSpec, config: AiConfig): Promise<LanguageModel> {
  switch (spec.provider) {
    case 'anthropic': {
      const { createAnthropic } = await import('@ai-sdk/anthropic')
      return createAnthropic()(spec.modelId)
    }
    case 'openai': {
      const { createOpenAI } = await import('@ai-sdk/openai')
      return createOpenAI()(spec.modelId)
    }
    case 'openai-compatible': {
      const { createOpenAICompatible } = await import('@ai-sdk/openai-compatible')
      return createOpenAICompatible({ name: 'openai-compatible', baseURL: config.baseUrl, apiKey: config.apiKey || undefined, includeUsage: true }).chatModel(spec.modelId)
    }
    case 'test': {
      const scenarios = await import(/* @vite-ignore */ pathToFileURL(config.testModels).href) as { scenarioModel: (name: string) => LanguageModel }
      return scenarios.scenarioModel(spec.modelId)
    }
  }
}
