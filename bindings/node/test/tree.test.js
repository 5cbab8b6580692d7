'use strict';
// The workload tree, its watch and pod logs against the real test cluster: every
// workload kind and nhctl's dev mode in the tree; the watch reporting a workload
// added, scaled, put into dev mode and deleted; a real pod's logs followed while it writes.
const { test, describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { nh, clusterSuite, clusterEnv, setupNamespace } = require('./helpers');

const DEV_IMAGE = 'registry.example/dev:1';
const SIDECAR_IMAGE = 'registry.example/nhsyncd:test';

function template(app, restartPolicy = 'Always') {
  return {
    metadata: { labels: { app } },
    spec: { restartPolicy, terminationGracePeriodSeconds: 1, containers: [{ name: 'app', image: 'registry.example/app:1.0' }] },
  };
}

function deployment(name, replicas = 1, annotations = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, annotations },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: template(name) },
  };
}

/** The next event of `iterator` for which pred holds (failing after `ms`). */
async function until(iterator, pred, what, ms = 60000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const timer = new Promise((_, reject) => setTimeout(() => reject(new Error(`no event: ${what}`)), deadline - Date.now()).unref());
    const { value, done } = await Promise.race([iterator.next(), timer]);
    assert.ok(!done, `the watch ended before: ${what}`);
    if (pred(value)) return value;
  }
}

describe('workload tree', clusterSuite(test), () => {
  let env;
  before(async () => {
    env = await setupNamespace();
  });
  after(async () => env && env.cleanup());

  it('lists every kind with its application and nhctl dev mode', async () => {
    const { client, ns } = env;
    const apps = `/apis/apps/v1/namespaces/${ns}`;
    await client.create(`${apps}/deployments`, deployment('web', 2, { 'dev.nocalhost/application-name': 'shop' }));
    const sts = deployment('db', 1, { 'meta.helm.sh/release-name': 'data' });
    sts.kind = 'StatefulSet';
    sts.spec.serviceName = 'db';
    await client.create(`${apps}/statefulsets`, sts);
    await client.create(`/apis/batch/v1/namespaces/${ns}/cronjobs`, {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'nightly' },
      spec: { schedule: '0 0 1 1 *', jobTemplate: { spec: { template: template('nightly', 'Never') } } },
    });
    const legacy = deployment('legacy', 1, { 'dev.nocalhost/origin-workload-definition': JSON.stringify(deployment('legacy')) });
    legacy.spec.template.spec.containers[0].name = 'nocalhost-dev';
    await client.create(`${apps}/deployments`, legacy);

    const entries = await client.tree();
    const names = entries.map((e) => `${e.kind}/${e.name}`).sort();
    assert.deepEqual(names, ['CronJob/nightly', 'Deployment/legacy', 'Deployment/web', 'StatefulSet/db']);
    const web = entries.find((e) => e.name === 'web');
    assert.equal(web.application, 'shop');
    assert.equal(web.replicas, 2);
    assert.equal(web.dev_mode, false);
    assert.equal(entries.find((e) => e.name === 'db').application, 'data');
    assert.equal(entries.find((e) => e.name === 'nightly').schedule, '0 0 1 1 *');
    const nhctl = entries.find((e) => e.name === 'legacy');
    assert.equal(nhctl.dev_mode, true);
    assert.equal(nhctl.dev[0].tool, 'nhctl');
    assert.deepEqual((await client.tree({ kinds: 'sts' })).map((e) => e.name), ['db']);
    await assert.rejects(client.tree({ kinds: ['service'] }), (e) => e instanceof nh.InvalidArgumentError && /service/.test(e.message));
    await assert.rejects(client.tree({ kind: 'sts' }), /did you mean 'kinds'/);
  });

  it('watch: added, scaled, dev mode and deleted arrive as events', async () => {
    const { client, ns } = env;
    const path = `/apis/apps/v1/namespaces/${ns}/deployments`;
    const watch = client.watchTree({ kinds: 'deployments' });
    const it = watch[Symbol.asyncIterator]();
    const synced = await until(it, (e) => e.type === 'SYNCED', 'synced');
    assert.ok(Array.isArray(synced.entry));
    await client.create(path, deployment('late'));
    await until(it, (e) => e.type === 'ADDED' && e.entry.name === 'late', 'added');
    await client.patch(`${path}/late`, { spec: { replicas: 3 } }, { patchType: 'merge' });
    await until(it, (e) => e.type === 'MODIFIED' && e.entry.name === 'late' && e.entry.replicas === 3, 'scaled');
    const session = await client.devStart('deployment/late', { image: DEV_IMAGE, sidecarImage: SIDECAR_IMAGE, owner: 'node@host/1', timeoutMs: 90000 });
    const pod = session.pod;
    session.close();
    const inDev = await until(
      it,
      (e) => e.type === 'MODIFIED' && e.entry.name === 'late' && e.entry.dev_mode && e.entry.dev[0].pod && e.entry.dev[0].pod.name === pod,
      'dev mode with its pod',
    );
    assert.equal(inDev.entry.dev[0].owner, 'node@host/1');
    await client.devEnd('deployment/late');
    await until(it, (e) => e.type === 'MODIFIED' && e.entry.name === 'late' && !e.entry.dev_mode, 'dev mode ended');
    await client.delete(`${path}/late`);
    await until(it, (e) => e.type === 'DELETED' && e.entry.name === 'late', 'deleted');
    await watch.close();
    assert.equal(watch.closed, true);
    await watch.done;
  });

  it("follows a real pod's logs while it writes", async () => {
    const { client, ns } = env;
    const taint = clusterEnv('NH_TEST_REAL_TAINT');
    clusterEnv('NH_TEST_REAL_NODE');
    await client.create(`/api/v1/namespaces/${ns}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'talker' },
      spec: {
        nodeSelector: { [taint]: 'true' },
        tolerations: [{ key: taint, operator: 'Exists', effect: 'NoSchedule' }],
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'app',
            image: clusterEnv('NH_TEST_IMAGE_APP'),
            command: ['/bin/sh', '-c', 'n=0; while true; do echo "tick $n"; n=$((n+1)); sleep 0.2; done'],
          },
        ],
      },
    });
    const deadline = Date.now() + 120000;
    for (;;) {
      const p = await client.get(`/api/v1/namespaces/${ns}/pods/talker`);
      if (p.status.phase === 'Running') {
        const lines = [];
        for await (const line of client.logs('talker')) lines.push(line);
        if (lines.length >= 2) break;
      }
      assert.ok(Date.now() < deadline, 'the real pod did not start writing');
      await new Promise((r) => setTimeout(r, 500));
    }
    const ticks = [];
    for await (const line of client.logs('pod/talker', { follow: true, tail: 1 })) {
      ticks.push(Number(/^tick (\d+)$/.exec(line)[1]));
      if (ticks.length >= 10) break; // leaving the loop closes the stream
    }
    assert.deepEqual(ticks, Array.from({ length: 10 }, (_, i) => ticks[0] + i));

    // The EventEmitter form, stopped by an AbortSignal.
    const ac = new AbortController();
    const stream = client.logs('talker', { follow: true, signal: ac.signal });
    const got = [];
    stream.on('line', (l) => got.push(l));
    setTimeout(() => ac.abort(), 1500);
    await assert.rejects(stream.done, (e) => e.name === 'AbortError');
    assert.ok(got.length >= 5, `only ${got.length} lines`);

    assert.deepEqual(await client.logPod('talker'), { pod: 'talker', namespace: ns, container: 'app', containers: ['app'], pods: 1 });
    const tail = [];
    for await (const line of client.logs('talker', { tail: 3, timestamps: true })) tail.push(line);
    assert.equal(tail.length, 3);
    assert.match(tail[0], /^20\d\d-\d\d-\d\dT[\d:.]+Z tick \d+$/);
    await assert.rejects(client.logPod('talker', { container: 'nope' }), (e) => e instanceof nh.NotFoundError);
    assert.throws(() => client.logs('talker', { tail: -1 }), nh.InvalidArgumentError);
  });

  it('opens a client from a kubeconfig in memory, and checks the cluster', async () => {
    const fs = require('node:fs');
    const text = fs.readFileSync(env.kubeconfig, 'utf8');
    const mem = new nh.Client({ kubeconfigData: text, namespace: env.ns });
    try {
      assert.equal(mem.namespace, env.ns);
      const check = await mem.check();
      assert.equal(check.authenticated, true);
      assert.equal(check.error, null);
      assert.ok(check.version.gitVersion);
      assert.ok(check.user.username);
    } finally {
      mem.close();
    }
    assert.throws(() => new nh.Client({ kubeconfigData: 'apiVersion: v1\nclusters: [\n' }), (e) => e instanceof nh.ConfigError && /kubeconfig data:/.test(e.message));
    assert.throws(() => new nh.Client({ kubeconfig: env.kubeconfig, kubeconfigData: text }), nh.InvalidArgumentError);
    const gone = new nh.Client({ kubeconfigData: text.replace(/server: .*/, 'server: https://127.0.0.1:1'), maxRetries: 0 });
    await assert.rejects(gone.check(), nh.ConnectError);
    gone.close();
  });
});
