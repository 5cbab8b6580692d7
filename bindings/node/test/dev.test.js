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
    assert.equal(session.target, `deployment/${name}`);
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
    // A mistyped kind is an invalid argument (NH_EINVAL, no HTTP status), as in every binding.
    await assert.rejects(
      client.devStart('service', 'x', { image: DEV_IMAGE }),
      (e) => e instanceof nh.InvalidArgumentError && e.code === 'NH_EINVAL' && e.httpStatus === 0,
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
  async function waitReady(name, replicas) {
    const deadline = Date.now() + 60000;
    for (;;) {
      const d = await client.get(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`);
      const st = d.status || {};
      if (
        st.readyReplicas === replicas &&
        st.availableReplicas === replicas &&
        st.replicas === replicas &&
        (st.updatedReplicas ?? replicas) === replicas &&
        st.observedGeneration === d.metadata.generation
      )
        return d;
      assert.ok(Date.now() < deadline, `deployment ${name} not ready: ${JSON.stringify(st)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function deploymentExists(name) {
    try {
      await client.get(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`);
      return true;
    } catch (e) {
      if (e instanceof nh.NotFoundError) return false;
      throw e;
    }
  }

  it('duplicate mode: two developers, each on a copy, the original untouched', async () => {
    const name = unique('dup');
    await createDeployment(name);
    const original = await waitReady(name, 2);
    const path = `/apis/apps/v1/namespaces/${ns}/deployments/${name}`;
    const common = { image: DEV_IMAGE, sidecarImage: SIDECAR_IMAGE, timeoutMs: 120000 };
    const alice = await client.devStart('deployment', name, { ...common, mode: 'duplicate', developer: 'alice@laptop' });
    const bob = await client.devStart('deployment', name, { ...common, mode: nh.DevMode.DUPLICATE, developer: 'bob@desk' });
    try {
      for (const [session, who] of [[alice, 'alice'], [bob, 'bob']]) {
        assert.equal(session.mode, 'duplicate');
        assert.equal(session.developer, { alice: 'alice@laptop', bob: 'bob@desk' }[who]);
        assert.deepEqual([session.kind, session.name, session.namespace], ['Deployment', name, ns]);
        assert.ok(session.workload.startsWith(`${name}-dup-${who}-`), session.workload);
        assert.ok(session.pod);
        assert.ok(await deploymentExists(session.workload));
        assert.equal(session.target, `deployment/${session.workload}`);
      }
      assert.notEqual(alice.workload, bob.workload);
      assert.equal((await client.get(path)).metadata.resourceVersion, original.metadata.resourceVersion);

      const status = await client.devStatus('deployment', name, { mode: 'duplicate', developer: 'alice@laptop' });
      assert.equal(status.dev_mode, true);
      assert.equal(status.mode, 'duplicate');
      const attached = await client.devAttach('deployment', name, { mode: 'duplicate', developer: 'bob@desk' });
      assert.equal(attached.mode, 'duplicate');
      assert.equal(attached.workload, bob.workload);
      assert.equal(attached.developer, 'bob@desk');
      attached.close();
      // Exec goes to the developer's copy, whose dev pod runs the command (locally, by kwok).
      const r = await alice.exec(['cat', 'hello.txt']);
      assert.equal(r.stdout.toString(), 'hello from the dev pod\n');

      // Session.end() ends this developer's copy only.
      const aliceCopy = alice.workload;
      assert.equal(await alice.end(), nh.DevEndResult.RESTORED);
      assert.equal(await deploymentExists(aliceCopy), false);
      assert.equal((await client.devStatus('deployment', name, { mode: 'duplicate', developer: 'alice@laptop' })).dev_mode, false);
      assert.equal((await client.devStatus('deployment', name, { mode: 'duplicate', developer: 'bob@desk' })).dev_mode, true);
      assert.ok(await deploymentExists(bob.workload));

      const bobCopy = bob.workload;
      assert.equal(await client.devEnd('deployment', name, { mode: 'duplicate', developer: 'bob@desk' }), nh.DevEndResult.RESTORED);
      assert.equal(await deploymentExists(bobCopy), false);
      assert.equal(
        await client.devEnd('deployment', name, { mode: 'duplicate', developer: 'bob@desk' }),
        nh.DevEndResult.NOT_IN_DEV_MODE,
      );
    } finally {
      for (const [session, who] of [[alice, 'alice@laptop'], [bob, 'bob@desk']]) {
        session.close();
        await client.devEnd('deployment', name, { mode: 'duplicate', developer: who });
      }
    }
    assert.equal((await client.get(path)).metadata.resourceVersion, original.metadata.resourceVersion);
  });

  it('checks dev-mode option values', async () => {
    await assert.rejects(client.devStatus('deployment', 'x', { mode: 'sideways' }), nh.InvalidArgumentError);
    await assert.rejects(client.devPvcList('deployment'), nh.InvalidArgumentError);
  });

  const nocalhostConfig = (name) => `name: ${name}
serviceType: deployment
containers:
  - name: app
    dev:
      image: registry.example/dev-from-config:2
      workDir: /home/dev/src
      shell: bash
      env:
        - name: FROM_CONFIG
          value: "yes"
        - name: LEVEL
          value: debug
      portForward:
        - "8080:8080"
        - "39229:9229"
      gitUrl: https://example.com/ignored.git
`;

  function writeConfig(name) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nh-node-cfg-'));
    fs.mkdirSync(path.join(dir, '.nocalhost'));
    fs.writeFileSync(path.join(dir, '.nocalhost', 'config.yaml'), nocalhostConfig(name));
    return dir;
  }

  it('resolves a Nocalhost config file', async () => {
    const name = unique('cfg');
    await createDeployment(name);
    const dir = writeConfig(name);
    let resolved = await client.devConfigResolve('deployment', name, { configPath: dir });
    assert.deepEqual(resolved.sources, [path.join(dir, '.nocalhost', 'config.yaml')]);
    assert.equal(resolved.container, 'app');
    assert.equal(resolved.image, 'registry.example/dev-from-config:2');
    assert.equal(resolved.workDir, '/home/dev/src');
    assert.equal(resolved.shell, 'bash');
    assert.deepEqual(resolved.env, [
      { name: 'FROM_CONFIG', value: 'yes' },
      { name: 'LEVEL', value: 'debug' },
    ]);
    assert.deepEqual(resolved.portForward, ['8080:8080', '39229:9229']);
    assert.deepEqual(resolved.ignored.map((i) => i.field), ['containers[0].dev.gitUrl']);

    // Explicit options win over the file.
    resolved = await client.devConfigResolve('deployment', name, {
      configPath: path.join(dir, '.nocalhost', 'config.yaml'),
      image: DEV_IMAGE,
      env: { LEVEL: 'info' },
      imagePullPolicy: 'Never',
      persistentDirs: [{ path: '/root/.m2', capacity: '2Gi' }],
    });
    assert.equal(resolved.image, DEV_IMAGE);
    assert.equal(resolved.imagePullPolicy, 'Never');
    assert.ok(resolved.env.some((e) => e.name === 'LEVEL' && e.value === 'info'));
    assert.deepEqual(resolved.persistentVolumeDirs, [{ path: '/root/.m2', capacity: '2Gi', storageClass: '' }]);

    assert.deepEqual((await client.devConfigResolve('deployment', 'other', { configPath: dir, ignoreClusterConfig: true })).sources, []);
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'name: x\ncontainers:\n  - name: app\n    dev:\n      imagePullPolicy: Sometimes\n');
    await assert.rejects(client.devConfigResolve('deployment', 'x', { configPath: bad }), (e) => {
      assert.ok(e instanceof nh.ConfigError, String(e));
      assert.ok(e.message.includes('bad.yaml:5') && e.message.includes('imagePullPolicy'), e.message);
      return true;
    });
  });

  it('starts with the image and work dir of the config, and applies patches', async () => {
    const name = unique('cfgstart');
    await createDeployment(name);
    const session = await client.devStart('deployment', name, {
      configPath: writeConfig(name),
      sidecarImage: SIDECAR_IMAGE,
      timeoutMs: 120000,
      patches: [{ type: 'merge', patch: { metadata: { annotations: { 'example.com/patched': 'yes' } } } }],
    });
    try {
      assert.equal(session.mode, 'replace');
      assert.equal(session.workload, '');
      assert.equal(session.developer, '');
      assert.equal(session.workdir, '/home/dev/src');
      assert.equal(session.status().image, 'registry.example/dev-from-config:2');
      const live = await client.get(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`);
      assert.equal(live.metadata.annotations['example.com/patched'], 'yes');
    } finally {
      assert.equal(await session.end(), nh.DevEndResult.RESTORED);
    }
  });

  it('keeps a persistent dir on a claim that outlives dev mode, lists and deletes it', async () => {
    const name = unique('pvc');
    const storageClass = unique('nh-node-pvc');
    const pv = `${storageClass}-pv`;
    await client.create('/api/v1/persistentvolumes', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pv },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: storageClass,
        hostPath: { path: `/tmp/${pv}` },
      },
    });
    try {
      await createDeployment(name);
      const session = await client.devStart('deployment', name, {
        image: DEV_IMAGE,
        sidecarImage: SIDECAR_IMAGE,
        timeoutMs: 120000,
        persistentDirs: [{ path: '/root/.cache', capacity: '1Gi', storageClass }],
      });
      let claim;
      try {
        const claims = await client.devPvcList('deployment', name);
        assert.equal(claims.length, 1, JSON.stringify(claims));
        claim = claims[0];
        assert.deepEqual(
          [claim.namespace, claim.workload, claim.path, claim.capacity, claim.storage_class, claim.phase],
          [ns, `Deployment/${name}`, '/root/.cache', '1Gi', storageClass, 'Bound'],
        );
      } finally {
        assert.equal(await session.end(), nh.DevEndResult.RESTORED);
      }
      assert.deepEqual((await client.devPvcList('deployment', name)).map((c) => c.name), [claim.name]);
      assert.ok((await client.devPvcList()).some((c) => c.name === claim.name));
      assert.ok((await client.devPvcList({ namespace: ns })).some((c) => c.name === claim.name));
      assert.deepEqual(await client.devPvcList('deployment', 'other'), []);
      await assert.rejects(client.devPvcDelete('deployment', name, 'no-such-claim'), nh.NotFoundError);
      assert.deepEqual(await client.devPvcDelete('deployment', name, '/root/.cache'), [claim.name]);
      const deadline = Date.now() + 60000;
      while ((await client.devPvcList('deployment', name)).length) {
        assert.ok(Date.now() < deadline, 'the claim was not deleted');
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await client.delete(`/api/v1/persistentvolumes/${pv}`);
    }
  });

  const inDevMode = async (name) => (await client.devStatus(`deployment/${name}`)).dev_mode;
  const startOptions = (more = {}) => ({ image: DEV_IMAGE, sidecarImage: SIDECAR_IMAGE, timeoutMs: 120000, ...more });

  it('a scoped session ends dev mode when the code using it throws', async () => {
    const name = unique('scoped');
    await createDeployment(name);
    const target = `deployment/${name}`;
    let seen;
    await assert.rejects(
      client.withDevMode(target, startOptions(), async (session) => {
        seen = session;
        assert.ok(session.endOnExit && (await inDevMode(name)));
        throw new RangeError('the script failed half-way');
      }),
      (e) => e instanceof RangeError && e.message === 'the script failed half-way',
    );
    assert.equal(seen.closed, true);
    assert.equal(await inDevMode(name), false);
    const restored = await client.get(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`);
    assert.equal(restored.spec.replicas, 2);
    assert.equal(restored.spec.template.spec.containers[0].image, 'registry.example/app:1.0');
    assert.equal(await client.withDevMode('deployment', name, startOptions(), (s) => s.name), name);
    assert.equal(await inDevMode(name), false);
    await waitReady(name, 2);

    // What `await using session = ...` does on leaving its block (Node 24, or TypeScript).
    const scoped = await client.devStart(target, startOptions({ endOnExit: true }));
    scoped.close(); // closing the handle does not give up the scope
    await scoped[Symbol.asyncDispose]();
    assert.equal(await inDevMode(name), false);

    // The handle-only form (the default) leaves dev mode on for later; devAttach can scope it.
    const kept = await client.devStart(target, startOptions());
    await kept[Symbol.asyncDispose]();
    assert.equal(kept.closed, true);
    assert.equal(await inDevMode(name), true);
    const attached = await client.devAttach(target, { endOnExit: true });
    await attached[Symbol.asyncDispose]();
    assert.equal(await inDevMode(name), false);
  });

  it('takes the CLI KIND/NAME form in every dev call', async () => {
    const name = unique('kn');
    await createDeployment(name);
    const target = `deployment/${name}`;
    assert.deepEqual((await client.devConfigResolve(target, { ignoreClusterConfig: true })).sources, []);
    const session = await client.devStart(target, startOptions());
    try {
      assert.equal(session.name, name);
      assert.equal((await client.devStatus(target)).dev_mode, true);
      const attached = await client.devAttach(`deploy/${name}`);
      assert.equal(attached.pod, session.pod);
      attached.close();
    } finally {
      session.close();
    }
    assert.deepEqual(await client.devPvcList(target), []);
    await assert.rejects(client.devPvcDelete(target, 'no-such-claim'), nh.NotFoundError);
    assert.equal(await client.devEnd(target), nh.DevEndResult.RESTORED);
    assert.equal(await client.devEnd(target), 'NOT_IN_DEV_MODE');
  });

  it('dev run and terminal use the dev config', async () => {
    const name = unique('run');
    await createDeployment(name);
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'nh-node-run-'));
    const workdir = path.join(project, 'work'); // kwok runs the command here: the work dir is local
    fs.mkdirSync(workdir);
    fs.mkdirSync(path.join(project, '.nocalhost'));
    fs.writeFileSync(path.join(project, '.nocalhost', 'config.yaml'), [
      `name: ${name}`, 'serviceType: deployment', 'containers:', '  - name: app', '    dev:',
      '      image: registry.example/dev-from-config:2', `      workDir: ${workdir}`, '      shell: echo shell-from-config',
      '      command:', '        build: ["sh", "-c", "echo built > built.txt && echo build-ok"]', '',
    ].join('\n'));
    await client.withDevMode(`deployment/${name}`, { configPath: project, sidecarImage: SIDECAR_IMAGE, timeoutMs: 120000 }, async (session) => {
      const result = await session.run('build');
      assert.deepEqual([result.exitCode, result.stdout.toString()], [0, 'build-ok\n']);
      assert.equal(fs.readFileSync(path.join(workdir, 'built.txt'), 'utf8'), 'built\n');
      assert.equal((await client.devRun('build', `deployment/${name}`)).exitCode, 0);
      await assert.rejects(session.run('hot-reload-run'), (e) => e instanceof nh.ConfigError && /no command.hotReloadRun/.test(e.message));
      for (const open of [() => session.terminal({ stdin: false }), () => client.terminal(`deployment/${name}`, { stdin: false })]) {
        const term = await open();
        const chunks = [];
        term.on('stdout', (d) => chunks.push(d));
        assert.equal(await term.wait(), 0);
        assert.match(Buffer.concat(chunks).toString(), /shell-from-config/);
      }
    });
    assert.equal(await inDevMode(name), false);
  });

  it('gives the same code and HTTP status as the other bindings', async () => {
    await assert.rejects(client.devStart('deployment/no-such-workload', { image: DEV_IMAGE, timeoutMs: 30000 }),
      (e) => e instanceof nh.NotFoundError && e.code === 'NH_ENOTFOUND' && e.httpStatus === 404);
    await assert.rejects(client.devStatus('services/x'), (e) => e instanceof nh.InvalidArgumentError && e.httpStatus === 0);
    const cms = `/api/v1/namespaces/${ns}/configmaps`;
    const cm = await client.create(cms, { metadata: { name: unique('cm') }, data: { a: '1' } });
    await assert.rejects(client.create(cms, { metadata: { name: cm.metadata.name } }),
      (e) => e instanceof nh.AlreadyExistsError && e.httpStatus === 409);
    await client.replace(`${cms}/${cm.metadata.name}`, { ...cm, data: { a: '2' } });
    await assert.rejects(client.replace(`${cms}/${cm.metadata.name}`, { ...cm, data: { a: '3' } }),
      (e) => e instanceof nh.ConflictError && e.code === 'NH_ECONFLICT' && e.httpStatus === 409 && e.reason === 'Conflict');
    const nobody = new nh.Client({ kubeconfig: process.env.NH_TEST_NOBODY_TOKEN_KUBECONFIG, namespace: ns });
    try {
      await assert.rejects(nobody.devStatus('deployment/web'),
        (e) => e instanceof nh.ForbiddenError && e.code === 'NH_EFORBIDDEN' && e.httpStatus === 403 && e.reason === 'Forbidden');
    } finally {
      nobody.close();
    }
  });
  it('force ends dev mode of a workload whose session record is gone', async () => {
    const name = unique('force');
    await createDeployment(name);
    const original = await waitReady(name, 2);
    const path = `/apis/apps/v1/namespaces/${ns}/deployments/${name}`;
    const session = await client.devStart('deployment', name, { image: DEV_IMAGE, sidecarImage: SIDECAR_IMAGE, timeoutMs: 120000 });
    const record = session.status().session_object;
    session.close();
    // The record is gone (deleted by hand, lost to a crash): the workload still looks in dev mode.
    await client.delete(`/api/v1/namespaces/${ns}/secrets/${record}`);

    await assert.rejects(client.devEnd('deployment', name), (e) => {
      assert.ok(e instanceof nh.InvalidStateError, e);
      assert.match(e.message, /force/);
      return true;
    });
    assert.equal((await client.get(path)).spec.template.spec.containers[0].image, DEV_IMAGE, 'a refused end changes nothing');

    const events = [];
    // Session.end() passes its options on: force from the handle of the session whose record is gone.
    assert.equal(await session.end({ force: true, onEvent: (e) => events.push(e) }), nh.DevEndResult.RESTORED);
    const restored = await client.get(path);
    assert.equal(restored.metadata.uid, original.metadata.uid);
    const containers = restored.spec.template.spec.containers;
    assert.deepEqual(containers.map((c) => c.name), ['app'], 'the sync sidecar is gone');
    assert.equal(containers[0].image, 'registry.example/app:1.0', 'the pod template came back from the rollout history');
    // The replica count was recorded only in the deleted record: the forced end says so.
    assert.ok(
      events.some((e) => e.type === 'WARNING' && e.phase === 'force' && /replicas/.test(e.message)),
      JSON.stringify(events),
    );
    assert.equal((await client.devStatus('deployment', name)).dev_mode, false);
    assert.equal(await client.devEnd('deployment', name), nh.DevEndResult.NOT_IN_DEV_MODE);
  });

  it('a refused patch is a warning unless patchErrorsFatal', async () => {
    const name = unique('patch');
    await createDeployment(name);
    const path = `/apis/apps/v1/namespaces/${ns}/deployments/${name}`;
    // A JSON patch whose "test" operation fails: the API server refuses it (422).
    const refused = { type: 'json', patch: [{ op: 'test', path: '/metadata/labels/app', value: 'other' }] };
    const common = { image: DEV_IMAGE, sidecarImage: SIDECAR_IMAGE, timeoutMs: 120000 };
    const events = [];
    const session = await client.devStart('deployment', name, {
      ...common,
      patches: [refused, { type: 'merge', patch: { metadata: { labels: { patched: 'yes' } } } }],
      onEvent: (e) => events.push(e),
    });
    assert.ok(events.some((e) => e.type === 'WARNING' && e.phase === 'patch'), JSON.stringify(events));
    assert.equal((await client.get(path)).metadata.labels.patched, 'yes', 'the patches after a refused one still apply');
    assert.equal(await session.end(), nh.DevEndResult.RESTORED);

    await assert.rejects(client.devStart('deployment', name, { ...common, patches: [refused], patchErrorsFatal: true }), (e) => {
      assert.ok(e instanceof nh.NocalhostError, e);
      assert.match(e.message, /patch 1/);
      return true;
    });
    assert.equal((await client.devStatus('deployment', name)).dev_mode, false);
    assert.equal((await client.get(path)).spec.template.spec.containers[0].image, 'registry.example/app:1.0', 'rolled back');
  });
});
