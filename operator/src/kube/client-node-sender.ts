// The sender for kubeconfigs whose auth only @kubernetes/client-node implements (exec plugins,
// auth providers, OIDC). Imported on demand: the operator in a pod never loads it.
import { IsomorphicFetchHttpLibrary, KubeConfig, RequestContext } from '@kubernetes/client-node';
import type { HttpSender } from './http.ts';

/** `config`: the merged kubeconfig as loadConnection hands it (JSON, file paths absolute); `source`: its files, for errors. */
export function clientNodeSender(config: string, source: string, context: string | undefined): { server: string; namespace?: string; sender: HttpSender } {
  const kc = new KubeConfig();
  kc.loadFromString(config);
  if (context !== undefined) kc.setCurrentContext(context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${source} has no current cluster`);
  const library = new IsomorphicFetchHttpLibrary();
  const server = cluster.server.replace(/\/+$/, '');
  const sender: HttpSender = {
    async send(req) {
      const ctx = new RequestContext(server + req.path, req.method as never);
      for (const [k, v] of Object.entries(req.headers)) ctx.setHeaderParam(k, v);
      if (req.body !== undefined) ctx.setBody(req.body);
      if (req.signal) ctx.setSignal(req.signal);
      await kc.applySecurityAuthentication(ctx);
      // The leader's fence once more, after the auth (an exec plugin can take seconds): fetch has
      // no hook between its connection and its write, so this is the last check there is here.
      req.beforeWrite?.();
      const res = await library.send(ctx).toPromise();
      return {
        status: res.httpStatusCode,
        text: () => res.body.text(),
        async each(onChunk) {
          const stream = res.body.stream();
          if (!stream) return;
          for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) onChunk(Buffer.from(chunk));
        },
        cancel: () => void res.body.stream()?.cancel().catch(() => {}),
      };
    },
  };
  const ns = kc.getContextObject(kc.getCurrentContext())?.namespace;
  return { server, ...(ns ? { namespace: ns } : {}), sender };
}
