import { STREAM_BASE_PATH } from '#layers/durable-sessions/shared/sessions/paths'
import { SqliteStreamStore } from '../streams/sqlite-store'
import { StreamHttpHandler } from '../streams/http'
import type { StreamStore } from '../streams/store'

let store: SqliteStreamStore | undefined
let http: StreamHttpHandler | undefined

export function useStreamStore(): StreamStore {
  store ??= new SqliteStreamStore(useDB())
  return store
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

/** Ends live readers and releases the store (server shutdown). */
export function closeStreams(): void {
  http?.closeLiveReaders()
  store?.dispose()
  http = undefined
  store = undefined
}
