'use strict';
// Dev mode and exec against the real test cluster: the round trip start -> exec -> end.
// kwok runs exec'd commands on this machine (a ClusterExec object selects the
// test namespace), so the commands' working directory is a local temp dir.
const { test, describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { nh, clusterSuite, unique } = require('./helpers');

const DEV_IMAGE = 'registry.example/dev:1';
const SIDECAR_IMAGE = 'registry.example/nhsyncd:test';

describe('dev mode', clusterSuite(test), () => {
  let client;
  let ns;
  before(async () => {
    const kubeconfig = process.env.NH_TEST_KUBECONFIG;
    ns = unique(`nh-nodedev-${process.pid}`);
    const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nh-node-exec-'));
    fs.writeFileSync(path.join(workdir, 'hello.txt'), 'hello from the dev pod\n');
    client = new nh.Client({ kubeconfig, namespace: ns, timeoutMs: 15000 });
    await client.create('/api/v1/namespaces', { metadata: { name: ns } });
    await client.create('/apis/kwok.x-k8s.io/v1alpha1/clusterexecs', {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'ClusterExec',
      metadata: { name: ns },
      spec: { selector: { matchNamespaces: [ns] }, execs: [{ local: { workDir: workdir } }] },
    });
  });
  after(async () => {
    if (!client) return;
    await client.delete(`/apis/kwok.x-k8s.io/v1alpha1/clusterexecs/${ns}`);
    await client.delete(`/api/v1/namespaces/${ns}`);
    client.close();
  });

  async function createDeployment(name) {
    return client.create(`/apis/apps/v1/namespaces/${ns}/deployments`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image: 'registry.example/app:1.0' }] },
        },
      },
    });
  }

  it('round trip: start, exec, end', async () => {
    const name = unique('web');
    const original = await createDeployment(name);
    const events = [];
    const session = await client.devStart('deployment', name, {
      image: DEV_IMAGE,
      sidecarImage: SIDECAR_IMAGE,
      env: { GREETING: 'hi' },
      timeoutMs: 120000,
      onEvent: (e) => events.push(e),
    });
    assert.deepEqual([session.kind, session.name, session.namespace, session.container], ['Deployment', name, ns, 'app']);
    assert.ok(session.pod);
    assert.equal(session.workdir, nh.devDefaults.workdir);
    assert.equal(session.syncPort, nh.devDefaults.syncPort);
    assert.ok(session.token);
    const phases = events.filter((e) => e.type === 'PHASE').map((e) => e.phase);
    assert.ok(phases.includes('lock') && phases.includes('ready'), phases.join());

    assert.equal((await client.devStatus('deployment', name)).dev_mode, true);
    assert.ok((await client.devList()).some((s) => s.name === name));
    assert.equal(session.status().image, DEV_IMAGE);
    assert.equal(await client.resolveTarget(`deployment/${name}`), session.pod);

    const r = await session.exec(['cat', 'hello.txt']);
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout.toString(), 'hello from the dev pod\n');
    const r2 = await client.exec(`deployment/${name}`, ['sh', '-c', 'echo out; echo err >&2'], { container: 'app' });
    assert.deepEqual([r2.exitCode, r2.stdout.toString(), r2.stderr.toString()], [0, 'out\n', 'err\n']);

    const attached = await client.devAttach('deployment', name);
    assert.equal(attached.pod, session.pod);
    attached.close();

    assert.equal(await session.end(), nh.DevEndResult.RESTORED);
    assert.equal(session.closed, true);
    assert.throws(() => session.pod, nh.InvalidStateError);
    assert.equal((await client.devStatus('deployment', name)).dev_mode, false);
    const restored = await client.get(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`);
    assert.equal(restored.metadata.uid, original.metadata.uid);
    assert.equal(restored.spec.replicas, 2);
    assert.equal(await client.devEnd('deployment', name), nh.DevEndResult.NOT_IN_DEV_MODE);
  });

  it('rejects with typed errors', async () => {
    await assert.rejects(client.devStart('deployment', 'no-such-workload', { image: DEV_IMAGE, timeoutMs: 30000 }), nh.NotFoundError);
    // An unknown kind: NH_EUNSUPPORTED before the library learnt more kinds, NH_EINVAL since.
    await assert.rejects(
      client.devStart('service', 'x', { image: DEV_IMAGE }),
      (e) => e instanceof nh.UnsupportedError || e instanceof nh.InvalidArgumentError,
    );
    await assert.rejects(client.devAttach('deployment', 'no-such-workload'), nh.NotFoundError);
    await assert.rejects(client.exec('pod/does-not-exist', ['true']), nh.NotFoundError);
    await assert.rejects(client.exec('x', []), nh.InvalidArgumentError);
  });

  it('a throwing onEvent stops the start, which rolls back', async () => {
    const name = unique('stop');
    await createDeployment(name);
    await assert.rejects(
      client.devStart('deployment', name, {
        image: DEV_IMAGE,
        sidecarImage: SIDECAR_IMAGE,
        onEvent: (e) => {
          if (e.phase === 'patch') throw new RangeError('stop here');
        },
      }),
      RangeError,
    );
    assert.equal((await client.devStatus('deployment', name)).dev_mode, false);
  });
});
