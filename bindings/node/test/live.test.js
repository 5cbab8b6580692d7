'use strict';
// Interactive exec, port-forward and sync against the real test cluster and a
// locally started nhsyncd. kwok runs exec'd commands on this machine
// (ClusterExec) and forwards the pod's port 8080 to an echo server of this
// test (ClusterPortForward). kwok never delivers stdin EOF: every command
// here ends on its own.
const { test, describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { nh, sleep, clusterSuite, unique, waitFor, freePort, nhsyncdPath, setupSyncLoop } = require('./helpers');

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

/** Collects one stream's output until `expected` appears. */
function readUntil(emitter, event, expected, ms = 30000) {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => reject(new Error(`no ${JSON.stringify(expected)} on ${event}; got ${got}`)), ms);
    const on = (data) => {
      got = Buffer.concat([got, data]);
      if (got.includes(expected)) {
        clearTimeout(timer);
        emitter.off(event, on);
        resolve(got.toString());
      }
    };
    emitter.on(event, on);
  });
}

async function startNhsyncd(root, token) {
  const port = await freePort();
  fs.mkdirSync(root, { recursive: true });
  const tokenFile = path.join(path.dirname(root), `token-${port}`);
  fs.writeFileSync(tokenFile, token);
  const proc = spawn(nhsyncdPath(), ['--root', root, '--listen', `127.0.0.1:${port}`, '--token-file', tokenFile], {
    stdio: 'ignore',
  });
  await waitFor(
    () =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      }),
    20000,
    'nhsyncd to listen',
  );
  return { address: `127.0.0.1:${port}`, stop: () => proc.kill('SIGTERM') };
}

describe('interactive exec and port-forward', clusterSuite(test), () => {
  let client;
  let ns;
  let echo;
  const echoConnections = new Set();
  const kwok = '/apis/kwok.x-k8s.io/v1alpha1';
  before(async () => {
    const kubeconfig = process.env.NH_TEST_KUBECONFIG;
    ns = unique(`nh-nodestream-${process.pid}`);
    const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nh-node-exec-'));
    // kwok keeps its connections to the target open (docs/test-cluster.md): destroy them at the end.
    echo = net.createServer((c) => {
      echoConnections.add(c);
      c.on('close', () => echoConnections.delete(c));
      c.on('error', () => {});
      c.pipe(c);
    });
    const echoPort = await listen(echo);
    client = new nh.Client({ kubeconfig, namespace: ns, timeoutMs: 15000 });
    await client.create('/api/v1/namespaces', { metadata: { name: ns } });
    await client.create(`${kwok}/clusterexecs`, {
      apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'ClusterExec', metadata: { name: ns },
      spec: { selector: { matchNamespaces: [ns] }, execs: [{ local: { workDir: workdir } }] },
    });
    await client.create(`${kwok}/clusterportforwards`, {
      apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'ClusterPortForward', metadata: { name: ns },
      spec: { selector: { matchNamespaces: [ns] }, forwards: [{ ports: [8080], target: { address: '127.0.0.1', port: echoPort } }] },
    });
    await client.create(`/api/v1/namespaces/${ns}/pods`, {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', labels: { app: 'p1' } },
      spec: { containers: [{ name: 'main', image: 'busybox' }] },
    });
    await waitFor(async () => (await client.get(`/api/v1/namespaces/${ns}/pods/p1`)).status?.phase === 'Running', 60000, 'p1 to run');
  });
  after(async () => {
    echo?.close();
    for (const c of echoConnections) c.destroy();
    if (!client) return;
    await client.delete(`${kwok}/clusterexecs/${ns}`);
    await client.delete(`${kwok}/clusterportforwards/${ns}`);
    await client.delete(`/api/v1/namespaces/${ns}`);
    client.close();
  });

  it('writes stdin and reads stdout and stderr of an interactive command', async () => {
    const proc = await client.execStart('pod/p1', ['sh', '-c', 'read a; echo "got:$a"; read b; echo "err:$b" >&2']);
    assert.equal(proc.pod, 'p1');
    assert.match(proc.protocol, /channel\.k8s\.io$/);
    const out = readUntil(proc, 'stdout', 'got:hello\n');
    proc.write('hello\n');
    assert.equal(await out, 'got:hello\n');
    const err = readUntil(proc, 'stderr', 'err:bye\n');
    proc.write(Buffer.from('bye\n'));
    assert.equal(await err, 'err:bye\n');
    assert.equal(await proc.wait(), 0);
    assert.throws(() => proc.write('late\n'), nh.InvalidStateError);
  });

  it('passes binary data through and stops on close()', async () => {
    const payload = Buffer.alloc(1024, 0).map((_, i) => i % 256);
    const proc = await client.execStart('pod/p1', ['head', '-c', String(payload.length)]);
    const chunks = [];
    proc.on('stdout', (d) => chunks.push(d));
    proc.write(payload.subarray(0, 100));
    proc.write(payload.subarray(100));
    assert.equal(await proc.wait(), 0);
    assert.deepEqual(Buffer.concat(chunks), payload);

    const stuck = await client.execStart('pod/p1', ['head', '-c', '1']);
    stuck.close();
    await assert.rejects(stuck.wait(), nh.CancelledError);
    stuck.close();  // idempotent
  });

  it('rejects when a listener throws', async () => {
    const proc = await client.execStart('pod/p1', ['sh', '-c', 'read a; echo $a; sleep 2']);
    proc.on('stdout', () => {
      throw new Error('stop here');
    });
    proc.write('x\n');
    await assert.rejects(proc.wait(), /stop here/);
  });

  it('forwards a local port to the pod', async () => {
    const fwd = await client.portForward('pod/p1', '0:8080');
    const events = [];
    fwd.on('connection', (e) => events.push(e));
    assert.ok(fwd.localPort > 0);
    assert.deepEqual(fwd.localPorts, [fwd.localPort]);
    assert.equal(fwd.pod, 'p1');
    for (let i = 0; i < 3; i++) {
      const msg = `ping ${i}\n`.repeat(1000);
      const got = await new Promise((resolve, reject) => {
        const s = net.connect(fwd.localPort, '127.0.0.1', () => s.write(msg));
        let data = '';
        s.on('data', (d) => {
          data += d;
          if (data.length >= msg.length) {
            s.destroy();
            resolve(data);
          }
        });
        s.on('error', reject);
      });
      assert.equal(got, msg);
    }
    await waitFor(() => events.filter((e) => e.type === 'CONNECTED').length >= 3, 10000, '3 CONNECTED events');
    assert.ok(events.every((e) => e.type !== 'CONNECTED' || (e.pod === 'p1' && e.remotePort === 8080)));
    await fwd.close();
    await assert.rejects(fwd.done, nh.CancelledError);
    await assert.rejects(client.portForward('pod/p1', 'not-a-port'), nh.InvalidArgumentError);
  });

  it('reverseForward needs a workload in dev mode and valid ports', async () => {
    await assert.rejects(client.reverseForward('pod', 'p1', '5678:5678', { timeoutMs: 5000 }), (e) =>
      e instanceof nh.InvalidStateError && /not in dev mode/.test(e.message));
    await assert.rejects(client.reverseForward('pod', 'p1', '5678:x'), nh.InvalidArgumentError);
  });
});

describe('sync to a local nhsyncd', () => {
  const TOKEN = 'node-test-token-0123456789';
  let dir;
  let server;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nh-node-sync-'));
    fs.mkdirSync(path.join(dir, 'src/sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src/hello.txt'), 'hello v1\n');
    fs.writeFileSync(path.join(dir, 'src/sub/data.bin'), Buffer.alloc(100000, 7));
    fs.writeFileSync(path.join(dir, 'src/skip.log'), 'ignored\n');
    server = await startNhsyncd(path.join(dir, 'root'), TOKEN);
  });
  after(() => {
    server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('flushes, reports status and events, pauses, resumes and stops', async () => {
    const src = path.join(dir, 'src');
    const root = path.join(dir, 'root');
    const sync = await nh.startSync(src, server.address, TOKEN, { stateDir: path.join(dir, 'state'), ignore: ['*.log'] });
    const states = [];
    sync.on('state', (e) => states.push(e.status.state));
    await sync.flush({ timeoutMs: 60000 });
    assert.equal(fs.readFileSync(path.join(root, 'hello.txt'), 'utf8'), 'hello v1\n');
    assert.equal(fs.statSync(path.join(root, 'sub/data.bin')).size, 100000);
    assert.ok(!fs.existsSync(path.join(root, 'skip.log')));
    const st = sync.status();
    assert.ok(st.filesSynced >= 2, JSON.stringify(st));
    assert.equal(st.fileErrors, 0);
    assert.equal(sync.lastError(), '');

    fs.writeFileSync(path.join(src, 'hello.txt'), 'hello v2\n');
    await sync.flush({ timeoutMs: 60000 });
    assert.equal(fs.readFileSync(path.join(root, 'hello.txt'), 'utf8'), 'hello v2\n');

    sync.pause();
    await waitFor(() => sync.status().state === 'paused', 10000, 'paused');
    fs.writeFileSync(path.join(src, 'later.txt'), 'made while paused\n');
    sync.resume();
    await sync.flush({ timeoutMs: 60000 });
    assert.equal(fs.readFileSync(path.join(root, 'later.txt'), 'utf8'), 'made while paused\n');
    assert.ok(states.includes('paused'), states.join());

    await sync.close();
    assert.ok(sync.closed);
    assert.throws(() => sync.status(), nh.InvalidStateError);
    await assert.rejects(sync.flush(), nh.InvalidStateError);
  });

  it('two-way with deleteProtection keeps the local file and sends it back', async () => {
    const src = path.join(dir, 'src-dp');
    const root = path.join(dir, 'root-dp');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'keep.txt'), 'precious\n');
    const own = await startNhsyncd(root, TOKEN);
    try {
      const sync = await nh.startSync(src, own.address, TOKEN, {
        stateDir: path.join(dir, 'state-dp'),
        mode: nh.SyncMode.TWO_WAY,
        deleteProtection: true,
      });
      const remote = [];
      sync.on('remoteChange', (e) => remote.push(e));
      await sync.flush({ timeoutMs: 60000 });
      assert.equal(fs.readFileSync(path.join(root, 'keep.txt'), 'utf8'), 'precious\n');
      fs.unlinkSync(path.join(root, 'keep.txt')); // deleted on the server side
      await waitFor(() => fs.existsSync(path.join(root, 'keep.txt')), 10000, 'the local copy sent back to the server');
      assert.equal(fs.readFileSync(path.join(root, 'keep.txt'), 'utf8'), 'precious\n');
      assert.equal(fs.readFileSync(path.join(src, 'keep.txt'), 'utf8'), 'precious\n');
      await waitFor(() => remote.some((e) => e.path === 'keep.txt' && e.message.includes('delete protection')), 10000,
        'the delete-protection event');
      await sync.close();
    } finally {
      own.stop();
    }
  });

  it('rejects a wrong token with UnauthorizedError and a missing directory with IOError', async () => {
    const sync = await nh.startSync(path.join(dir, 'src'), server.address, 'wrong', { stateDir: path.join(dir, 'state2') });
    await assert.rejects(sync.flush({ timeoutMs: 30000 }), nh.UnauthorizedError);
    assert.equal(sync.status().state, 'error');
    assert.ok(sync.lastError());
    await sync.close();
    await assert.rejects(nh.startSync(path.join(dir, 'missing'), server.address, TOKEN), nh.IOError);
  });
});

// kwok runs no containers: the test plays the kubelet for the sync sidecar,
// starting nhsyncd with the command and token the library put into the pod
// spec; a ClusterPortForward sends the pod's sync port to it.
describe('dev session sync (the whole loop)', clusterSuite(test), () => {
  let loop;
  let client;
  let ns;
  let dir;
  const startSidecar = (root) => loop.startSidecar(root);
  before(async () => {
    loop = await setupSyncLoop('nodeloop');
    ({ client, ns, dir } = loop);
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src/hello.txt'), 'hello v1\n');
    fs.writeFileSync(path.join(dir, 'src/skip.log'), 'ignored\n');
  });
  after(async () => {
    if (loop) await loop.cleanup();
  });

  it('devStart with localDir syncs; session.sync(), stopSync() and startSync()', async () => {
    const src = path.join(dir, 'src');
    const root = path.join(dir, 'root');
    const phases = [];
    const starting = client.devStart('deployment', 'web', {
      image: 'registry.example/dev:1',
      sidecarImage: 'registry.example/nhsyncd:test',
      timeoutMs: 120000,
      localDir: src,
      sync: { stateDir: path.join(dir, 'state'), ignore: ['*.log'], deleteProtection: true },
      onEvent: (e) => phases.push(e.phase),
    });
    starting.catch(() => {});
    const stopSidecar = await startSidecar(root);
    try {
      const session = await starting;
      for (const p of ['forward', 'sync', 'synced']) assert.ok(phases.includes(p), phases.join());
      assert.equal(fs.readFileSync(path.join(root, 'hello.txt'), 'utf8'), 'hello v1\n');
      assert.ok(!fs.existsSync(path.join(root, 'skip.log')));

      const sync = session.sync();
      assert.ok(sync);
      await sync.ready;
      fs.writeFileSync(path.join(src, 'hello.txt'), 'hello v2\n');
      await sync.flush({ timeoutMs: 60000 });
      assert.equal(fs.readFileSync(path.join(root, 'hello.txt'), 'utf8'), 'hello v2\n');
      assert.ok(sync.status().filesSynced >= 1);

      await session.stopSync();
      assert.equal(session.sync(), null);
      assert.throws(() => sync.status(), nh.InvalidStateError);

      const loopPhases = [];
      const states = [];
      const again = await session.startSync(src, {
        stateDir: path.join(dir, 'state'),
        timeoutMs: 60000,
        onEvent: (e) => loopPhases.push(e.phase),
      });
      again.on('state', (e) => states.push(e.status.state));
      assert.deepEqual(loopPhases, ['forward', 'sync', 'synced']);
      assert.equal(session.sync(), again);
      fs.writeFileSync(path.join(src, 'new.txt'), 'new\n');
      await again.flush({ timeoutMs: 60000 });
      assert.equal(fs.readFileSync(path.join(root, 'new.txt'), 'utf8'), 'new\n');
      assert.equal(await session.end(), nh.DevEndResult.RESTORED);
      assert.ok(session.closed);
    } finally {
      stopSidecar();
    }
  });
});
