'use strict';
// What needs no cluster: versions, the error table, options, lifetimes, logging.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { Worker } = require('node:worker_threads');
const { nh, fakeKubeconfig } = require('./helpers');

test('versions', () => {
  assert.equal(nh.libraryVersion, nh.version);
  assert.match(nh.version, /^\d+\.\d+\.\d+$/);
});

test('every C code maps to a named Error subclass', () => {
  for (const [name, errno] of Object.entries(nh.ErrorCode)) {
    const e = nh.makeError(errno, 'm', 0, '');
    assert.ok(e instanceof nh.NocalhostError);
    assert.ok(e instanceof Error);
    assert.equal(e.code, name);
    assert.equal(e.errno, errno);
  }
  assert.equal(nh.makeError(-9, 'gone', 404, 'NotFound').constructor, nh.NotFoundError);
  assert.equal(nh.makeError(-9, 'x').name, 'NotFoundError');
  assert.equal(nh.makeError(-999, 'x').constructor, nh.NocalhostError);
  assert.equal(nh.ErrorCode.NH_EFORBIDDEN, -13);
});

test('a missing kubeconfig throws ConfigError naming the file', () => {
  assert.throws(() => new nh.Client({ kubeconfig: '/nonexistent/nope.yaml' }), (e) => {
    assert.ok(e instanceof nh.ConfigError);
    assert.equal(e.code, 'NH_ECONFIG');
    assert.match(e.message, /nope\.yaml/);
    return true;
  });
});

test('the client reports what the kubeconfig resolved to', () => {
  const kubeconfig = fakeKubeconfig();
  const c = new nh.Client({ kubeconfig: [kubeconfig] });
  assert.deepEqual([c.context, c.server, c.namespace], ['ctx', 'https://127.0.0.1:1', 'team']);
  c.close();
  const d = new nh.Client({ kubeconfig, namespace: 'other' });
  assert.equal(d.namespace, 'other');
  d.close();
  assert.throws(() => new nh.Client({ kubeconfig, context: 'missing' }), nh.ConfigError);
  assert.throws(() => new nh.Client({ kubeconfig: 42 }), nh.InvalidArgumentError);
});

test('an unreachable server rejects with ConnectError', async () => {
  const c = new nh.Client({ kubeconfig: fakeKubeconfig(), timeoutMs: 5000, maxRetries: 0 });
  await assert.rejects(c.serverVersion(), (e) => e instanceof nh.ConnectError && e.httpStatus === 0);
  c.close();
});

test('close() is idempotent and use after close fails', async () => {
  const c = new nh.Client({ kubeconfig: fakeKubeconfig() });
  assert.equal(c.closed, false);
  c.close();
  c.close();
  assert.equal(c.closed, true);
  assert.throws(() => c.namespace, (e) => e instanceof nh.InvalidStateError && /closed/.test(e.message));
  await assert.rejects(c.serverVersion(), nh.InvalidStateError);
  await assert.rejects(c.get('/api'), nh.InvalidStateError);
  assert.throws(() => c.watch('/api/v1/pods'), nh.InvalidStateError);
});

test('an aborted signal rejects at once with an AbortError, as Node APIs do', async () => {
  const c = new nh.Client({ kubeconfig: fakeKubeconfig() });
  const reason = new Error('user pressed stop');
  await assert.rejects(c.serverVersion({ signal: AbortSignal.abort(reason) }), (e) => {
    assert.equal(e.name, 'AbortError');
    assert.equal(e.code, 'ABORT_ERR');
    assert.equal(e.cause, reason);
    assert.ok(e instanceof nh.AbortError && e instanceof nh.CancelledError);
    assert.equal(e.errno, nh.ErrorCode.NH_ECANCELLED);
    return true;
  });
  await assert.rejects(c.devStatus('deployment/web', { signal: AbortSignal.abort() }), { name: 'AbortError' });
  c.close();
});

test('an abort during a call rejects it with an AbortError; close() with a CancelledError', async () => {
  // A server that accepts and never answers: the call is in flight when the signal fires.
  const server = net.createServer(() => {});
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const c = new nh.Client({ kubeconfig: fakeKubeconfig(`http://127.0.0.1:${server.address().port}`), timeoutMs: 30000 });
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    await assert.rejects(c.serverVersion({ signal: ac.signal }), (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR');
    const pending = c.serverVersion({ signal: new AbortController().signal });
    setTimeout(() => c.close(), 200);
    await assert.rejects(pending, (e) => e.name === 'CancelledError' && e.code === 'NH_ECANCELLED');
  } finally {
    c.close();
    server.close();
  }
});

test('an option a call does not take is a TypeError naming the closest valid one', async () => {
  const c = new nh.Client({ kubeconfig: fakeKubeconfig() });
  await assert.rejects(c.devStart('deployment/web', { image: 'x', namepsace: 'other' }), (e) => {
    assert.ok(e instanceof TypeError, e);
    assert.equal(e.code, 'ERR_INVALID_ARG_VALUE');
    assert.match(e.message, /unknown option 'namepsace' \(did you mean 'namespace'\?\)/);
    return true;
  });
  await assert.rejects(c.devEnd('deployment', 'web', { developr: 'bob' }), /did you mean 'developer'/);
  await assert.rejects(c.exec('pod/p', ['true'], { contianer: 'app' }), /did you mean 'container'/);
  await assert.rejects(c.get('/api', { timeout: 5 }), /did you mean 'timeoutMs'/);
  assert.throws(() => c.watch('/api/v1/pods', { labelselector: 'a=b' }), /did you mean 'labelSelector'/);
  assert.throws(() => new nh.Client({ kubeconfig: fakeKubeconfig(), namspace: 'x' }), /did you mean 'namespace'/);
  await assert.rejects(c.devList({ zzz: 1 }), /unknown option 'zzz' \(valid: namespace, allNamespaces, signal\)/);
  c.close();
});

test('the options of options version 3 are taken: devEnd force, devStart patchErrorsFatal', async () => {
  // The keys pass the check, and the call goes on to the (unreachable) server.
  const c = new nh.Client({ kubeconfig: fakeKubeconfig(), timeoutMs: 5000, maxRetries: 0 });
  await assert.rejects(c.devEnd('deployment/web', { force: true }), nh.ConnectError);
  await assert.rejects(c.devStart('deployment/web', { image: 'x', patchErrorsFatal: true }), nh.ConnectError);
  c.close();
});

test('devStart headers and router reach the library (refused before any request)', async () => {
  const c = new nh.Client({ kubeconfig: fakeKubeconfig(), timeoutMs: 5000, maxRetries: 0 });
  const common = { image: 'x', ignoreClusterConfig: true, mode: 'duplicate', developer: 'a@b' };
  await assert.rejects(c.devStart('deployment/web', { ...common, headers: ['x dev=a'] }),
    (e) => e instanceof nh.InvalidArgumentError && /HTTP token/.test(e.message));
  await assert.rejects(c.devStart('deployment/web', { ...common, headers: ['x-dev=a'], router: 'linkerd' }),
    (e) => e instanceof nh.InvalidArgumentError && /auto, istio, gateway-api/.test(e.message));
  c.close();
});

test('the CLI KIND/NAME form is parsed; a malformed one is an InvalidArgumentError', async () => {
  const c = new nh.Client({ kubeconfig: fakeKubeconfig() });
  for (const bad of ['web', 'deployment/', '/web']) {
    await assert.rejects(c.devStatus(bad), (e) => e instanceof nh.InvalidArgumentError && /expected KIND\/NAME/.test(e.message));
  }
  await assert.rejects(c.devEnd('deployment/web', 'web'), /not both/);
  c.close();
});

test('enums are their names', () => {
  assert.equal(nh.DevEndResult.RESTORED, 'RESTORED');
  assert.equal(nh.DevMode.DUPLICATE, 'duplicate');
  assert.equal(nh.DevEventType.WARNING, 'WARNING');
  assert.equal(nh.WatchEventType.RELISTED, 'RELISTED');
  assert.equal(nh.ForwardEventType.POD_LOST, 'POD_LOST');
  assert.equal(nh.LogLevel.DEBUG, 'DEBUG');
  assert.equal(`${nh.DevEndResult.WORKLOAD_GONE}`, 'WORKLOAD_GONE');
});

test('an invalid path rejects with InvalidArgumentError', async () => {
  const c = new nh.Client({ kubeconfig: fakeKubeconfig() });
  await assert.rejects(c.get('no-leading-slash'), nh.InvalidArgumentError);
  await assert.rejects(c.patch('/x', {}, { patchType: 'nope' }), nh.InvalidArgumentError);
  c.close();
});

test('log lines reach the handler on the main thread', async () => {
  const lines = [];
  nh.setLogHandler((level, message) => lines.push([level, message]), nh.LogLevel.DEBUG);
  try {
    const c = new nh.Client({ kubeconfig: fakeKubeconfig(), timeoutMs: 2000, maxRetries: 1 });
    await assert.rejects(c.serverVersion(), nh.ConnectError);
    c.close();
    await new Promise((r) => setTimeout(r, 50)); // lines are queued to the main thread
  } finally {
    nh.setLogHandler(null);
  }
  assert.ok(lines.some(([, m]) => m.includes('retrying GET /version')), JSON.stringify(lines));
  assert.ok(lines.every(([l]) => l === nh.LogLevel.DEBUG));
  assert.ok(!lines.some(([, m]) => m.includes('secret-token')));
});

test('the addon loads in worker threads, with state of its own', async () => {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const nh = require(workerData.index);
    const c = new nh.Client({ kubeconfig: workerData.kubeconfig });
    c.serverVersion({ signal: AbortSignal.abort() }).catch((e) => {
      parentPort.postMessage([c.namespace, e.name]);
      c.close();
    });`;
  const kubeconfig = fakeKubeconfig();
  const run = () =>
    new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { index: require.resolve('..'), kubeconfig } });
      w.once('message', resolve);
      w.once('error', reject);
    });
  assert.deepEqual(await Promise.all([run(), run()]), [
    ['team', 'AbortError'],
    ['team', 'AbortError'],
  ]);
});
