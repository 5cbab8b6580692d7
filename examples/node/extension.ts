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

/**
 * A "Start developing" command: dev mode, a command in the dev container, and back. withDevMode
 * ends dev mode however the callback ends, also when it throws.
 */
export async function developOnce(client: nh.Client, workload: string): Promise<string> {
  return client.withDevMode(`deployment/${workload}`, {
    image: 'registry.example/dev:1',
    onEvent: (e: nh.DevEvent) => console.log(`[${e.phase}] ${e.message}`),
  }, async (session: nh.Session) => {
    const result: nh.ExecResult = await session.exec(['go', 'version']);
    return result.stdout.toString();
  });
}

/** The same with `await using` (TypeScript 5.2+, or Node 24): leaving the block ends dev mode. */
export async function buildOnce(client: nh.Client, workload: string): Promise<number> {
  await using session = await client.devStart(`deployment/${workload}`, { image: 'registry.example/dev:1', endOnExit: true });
  const build: nh.ExecResult = await session.run('build');
  return build.exitCode;
}

/** A session meant to outlive the extension: the handle goes, dev mode stays until ended. */
export async function startForLater(client: nh.Client, workload: string): Promise<void> {
  const session: nh.Session = await client.devStart(`deployment/${workload}`, { image: 'registry.example/dev:1' });
  session.close();
  const ended: nh.DevEndResultValue = await client.devEnd(`deployment/${workload}`);
  console.log(ended === nh.DevEndResult.RESTORED ? 'restored' : `end result ${ended}`);
}

/** A terminal, a port-forward and a sync, as an extension's "Open terminal" / "Forward" / "Sync" commands use them. */
export async function liveTools(client: nh.Client, workload: string, localDir: string, token: string): Promise<void> {
  const shell: nh.Exec = await client.execStart(`deployment/${workload}`, ['sh'], { tty: true });
  shell.on('stdout', (data: Buffer) => process.stdout.write(data));
  shell.resize(120, 40);
  shell.write('echo hello; exit\n');
  const code: number = await shell.wait();

  const fwd: nh.PortForward = await client.portForward(`deployment/${workload}`, '0:8080');
  fwd.on('connection', (e: nh.ForwardEvent) => console.log(e.type, e.localPort, '->', e.pod, e.remotePort));
  console.log(`http://127.0.0.1:${fwd.localPort} (exit code of the shell: ${code})`);

  const sync: nh.Sync = await nh.startSync(localDir, `127.0.0.1:${fwd.localPort}`, token, { ignore: ['node_modules/'] });
  sync.on('progress', (e: nh.SyncEvent) => console.log(e.status?.filesDone, '/', e.status?.filesTotal));
  await sync.flush({ timeoutMs: 60_000 });
  const status: nh.SyncStatus = sync.status();
  console.log(status.state, status.filesSynced);
  await sync.close();
  await fwd.close();
}
