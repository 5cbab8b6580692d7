// What a VS Code extension would write: open a client, show the cluster,
// follow a collection, cancel on deactivate. Type-checked by `npm run typecheck`
// in bindings/node; run `node cluster_info.js` for the same in plain JavaScript.
import * as nh from 'nocalhost';

interface ConfigMap {
  metadata: { name: string; resourceVersion?: string };
  data?: Record<string, string>;
}

export async function activate(kubeconfig?: string): Promise<() => Promise<void>> {
  const client = new nh.Client({ kubeconfig, timeoutMs: 10_000 });
  const version = await client.serverVersion();
  console.log(`connected to ${client.server} (${version.gitVersion}), namespace ${client.namespace}`);

  try {
    await client.get<ConfigMap>(`/api/v1/namespaces/${client.namespace}/configmaps/settings`);
  } catch (e) {
    if (e instanceof nh.NotFoundError) console.log(`no settings yet (HTTP ${e.httpStatus} ${e.reason})`);
    else if (e instanceof nh.ForbiddenError) console.log(`not allowed: ${e.message}`);
    else throw e;
  }

  const stop = new AbortController();
  const watch = client.watch<ConfigMap>(`/api/v1/namespaces/${client.namespace}/configmaps`, { signal: stop.signal });
  watch.on('event', (event: nh.WatchEvent<ConfigMap>) => console.log(event.type, event.object.metadata.name));
  watch.on('error', (error: nh.NocalhostError) => console.error(`watch ended: ${error.code} ${error.message}`));

  return async function deactivate() {
    stop.abort();
    await watch.close();
    client.close();
  };
}

/** A "Start developing" command: dev mode, a command in the dev container, and back. */
export async function developOnce(client: nh.Client, workload: string): Promise<string> {
  const session: nh.Session = await client.devStart('deployment', workload, {
    image: 'registry.example/dev:1',
    onEvent: (e: nh.DevEvent) => console.log(`[${e.phase}] ${e.message}`),
  });
  try {
    const result: nh.ExecResult = await session.exec(['go', 'version']);
    return result.stdout.toString();
  } finally {
    const ended: nh.DevEndResultValue = await session.end();
    console.log(ended === nh.DevEndResult.RESTORED ? 'restored' : `end result ${ended}`);
  }
}
