import { STREAM_BASE_PATH } from '#layers/durable-sessions/shared/sessions/paths'
import { StreamHttpHandler } from '../streams/http'
import type { StreamStore } from '../streams/store'

let http: StreamHttpHandler | undefined

export function useStreamStore(): StreamStore {
  return useBackend().streams
}

export function useStreamHttp(): StreamHttpHandler {
  if (!http) {
    const config = useRuntimeConfig().durableSessions
    http = new StreamHttpHandler(useStreamStore(), {
      basePath: STREAM_BASE_PATH,
      longPollTimeoutMs: Number(config.streamsLongPollTimeoutMs),
      readChunkBytes: Number(config.streamsReadChunkBytes),
      maxAppendBytes: Number(config.streamsMaxAppendBytes),
      maxPathLength: 1024,
      corsOrigin: config.streamsCorsOrigin,
      sse: {
        maxDurationMs: Number(config.streamsSseMaxSeconds) * 1000,
        keepAliveMs: 15_000,
        // A reader further behind than a few pages is dropped and catches up from its offset on
        // reconnect, so 1000 stalled readers cannot pin gigabytes.
        maxBufferedBytes: 4 * Number(config.streamsReadChunkBytes),
      },
      maxLiveReads: { perClient: Number(config.streamsMaxLiveReadsPerClient), total: Number(config.streamsMaxLiveReads) },
      clientOf: clientAddress,
      authorizeWrite: hasServerToken,
    })
  }
  return http
}

/** Ends live readers (server shutdown). */
export function closeStreams(): void {
  http?.closeLiveReaders()
  http = undefined
}
