import { startCluster } from '../support/cluster'
import { CONFORMANCE_ENV, runOfficialSuite } from '../support/conformance'
import { startNginx } from '../support/nginx'

/**
 * The official conformance suite against two instances on one PostgreSQL database behind the
 * shipped nginx configuration (deploy/nginx.conf.template): requests alternate between the
 * instances, and go through its cache.
 */
runOfficialSuite(async () => {
  const cluster = await startCluster(2, { env: CONFORMANCE_ENV })
  const nginx = await startNginx(cluster.servers.map(server => server.url))
  return {
    url: nginx.url,
    stop: async () => {
      const log = nginx.accessLog()
      const byInstance = new Map<string, number>()
      for (const line of log) {
        const upstream = /upstream=(\S+)/.exec(line)?.[1]
        if (upstream && upstream !== '-') byInstance.set(upstream, (byInstance.get(upstream) ?? 0) + 1)
      }
      console.info(`[conformance] through nginx: ${log.length} requests; to the instances: ${[...byInstance].map(([instance, n]) => `${instance} ${n}`).join(', ')}`)
      await nginx.stop()
      await cluster.stop()
    },
  }
})
