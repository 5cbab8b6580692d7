'use strict';
// Folder associations (the store every process of the user shares) and the rights of dev mode:
// several processes writing the store at once lose no entry, the nearest associated ancestor
// wins, symlinks resolve, a corrupt store is refused and kept; the rights an identity lacks
// as the test cluster's API server says.
const { test, describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { nh, clusterSuite, clusterEnv, setupNamespace } = require('./helpers');

function scratch() {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'nh-node-assoc-')));
}

describe('folder associations', () => {
  it('loses no entry when processes write the store at once', async () => {
    const root = scratch();
    const store = path.join(root, 'cfg', 'associations.json');
    const procs = 4;
    const each = 25;
    for (let p = 0; p < procs; p++) for (let i = 0; i < each; i++) fs.mkdirSync(path.join(root, `${p}-${i}`));
    const script = `const nh = require(${JSON.stringify(path.resolve(__dirname, '..'))});
      const [p, each, root, store] = process.argv.slice(1);
      for (let i = 0; i < Number(each); i++) nh.associate(root + '/' + p + '-' + i, 'deployment/web-' + p + '-' + i, { store });`;
    const codes = await Promise.all(Array.from({ length: procs }, (_, p) => new Promise((resolve) => {
      spawn(process.execPath, ['-e', script, String(p), String(each), root, store], { stdio: 'inherit' }).on('exit', resolve);
    })));
    assert.deepEqual(codes, Array(procs).fill(0));
    const names = new Set(nh.associations({ store }).map((e) => e.name));
    assert.equal(names.size, procs * each, 'entries were lost to a concurrent writer');
  });

  it('finds the nearest associated ancestor, through symlinks too', () => {
    const root = scratch();
    const store = path.join(root, 'cfg', 'associations.json');
    fs.mkdirSync(path.join(root, 'repo', 'svc', 'api'), { recursive: true });
    const web = nh.associate(path.join(root, 'repo'), 'deploy/web', { namespace: 'demo', container: 'app', store });
    assert.equal(web.kind, 'deployment');
    nh.associate(path.join(root, 'repo', 'svc', 'api'), 'sts', 'api', { namespace: 'demo', store });
    assert.equal(nh.association(path.join(root, 'repo', 'svc', 'api', 'a', 'b'), { store }).name, 'api');
    assert.deepEqual(nh.association(path.join(root, 'repo', 'svc'), { store }), web);
    assert.equal(nh.association(root, { store }), null);
    fs.symlinkSync(path.join(root, 'repo', 'svc', 'api'), path.join(root, 'link'));
    assert.equal(nh.association(path.join(root, 'link'), { store }).name, 'api');
    assert.deepEqual(nh.findAssociations('deployments', 'web', { namespace: 'demo', store }).map((e) => e.dir), [path.join(root, 'repo')]);
    assert.equal(nh.dissociate(path.join(root, 'link'), { store }), true);
    assert.equal(nh.dissociate(path.join(root, 'link'), { store }), false);
    assert.throws(() => nh.associate(root, 'service/web', { store }), nh.InvalidArgumentError);
    assert.throws(() => nh.associate(path.join(root, 'missing'), 'deployment/web', { store }), nh.NotFoundError);
    assert.throws(() => nh.associations({ stroe: store }), /did you mean 'store'/);
  });

  it('refuses a corrupt store and leaves it as it is', () => {
    const root = scratch();
    const store = path.join(root, 'associations.json');
    fs.writeFileSync(store, '{"associations": [');
    assert.throws(() => nh.associate(root, 'deployment/web', { store }), (e) => e instanceof nh.ConfigError && e.message.includes(store));
    assert.throws(() => nh.associations({ store }), nh.ConfigError);
    assert.equal(fs.readFileSync(store, 'utf8'), '{"associations": [');
  });
});

describe('the rights of dev mode', clusterSuite(test), () => {
  let env;
  before(async () => {
    env = await setupNamespace();
  });
  after(async () => env && env.cleanup());

  it('lists the rights and what an identity lacks', async () => {
    const { client, ns } = env;
    const rules = await client.devRequiredRights('deployment/web', { ignoreClusterConfig: true });
    const resources = new Set(rules.flatMap((r) => r.resources));
    for (const r of ['deployments', 'replicasets', 'pods', 'pods/exec', 'pods/portforward', 'secrets', 'leases', 'events']) {
      assert.ok(resources.has(r), `${r} is not in the rights`);
    }
    assert.deepEqual((await client.devAccessCheck('deployment/web', { ignoreClusterConfig: true })).missing, []);
    const nobody = new nh.Client({ kubeconfig: clusterEnv('NH_TEST_NOBODY_TOKEN_KUBECONFIG'), namespace: ns });
    try {
      const report = await nobody.devAccessCheck('deployment', 'web', { ignoreClusterConfig: true });
      assert.equal(report.checked, true);
      const missing = new Set(report.missing.map((m) => `${m.verb} ${m.resource}${m.subresource ? '/' + m.subresource : ''}`));
      for (const m of ['update deployments', 'create pods/exec', 'create secrets']) assert.ok(missing.has(m), `${m} is not missing`);
      assert.deepEqual(report.rules, rules);
    } finally {
      nobody.close();
    }
  });

  it('writes the dev config back only over the version read, and remembers the dev profile', async () => {
    const { client, ns } = env;
    const config = 'application:\n  name: shop\n  services:\n    - name: web\n      serviceType: deployment\n      containers:\n        - name: app\n          dev:\n            image: registry.example/dev:cm\n';
    const read = await client.devConfigRead('deployment/web', { app: 'shop' });
    assert.equal(read.config, null);
    const written = await client.devConfigWrite('deployment/web', { app: 'shop', config });
    assert.equal(written.config, config);
    await assert.rejects(client.devConfigWrite('deployment/web', { app: 'shop', config }), nh.ConflictError);
    await assert.rejects(client.devConfigWrite('deployment/web', { app: 'shop', config: 'application: [', resourceVersion: written.resource_version }),
      nh.InvalidArgumentError);
    const again = await client.devConfigWrite('deployment/web', { app: 'shop', config: config + '\n', resourceVersion: written.resource_version });
    assert.equal(again.config, config + '\n');
    await assert.rejects(client.devConfigWrite('deployment/web', { app: 'shop', config, resourceVersion: written.resource_version }), nh.ConflictError);

    const store = path.join(scratch(), 'profiles.json');
    assert.equal(client.devProfile('deployment/web', { store }), null);
    client.rememberDevProfile('deployment/web', { image: 'golang:1.22', container: 'app', store });
    client.rememberDevProfile('deploy', 'web', { workdir: '/src', store });
    const p = client.devProfile('deployment/web', { store });
    assert.deepEqual([p.image, p.container, p.workdir, p.namespace], ['golang:1.22', 'app', '/src', ns]);
  });

  it('associates a folder with the client\'s namespace and context', () => {
    const { client, ns } = env;
    const root = scratch();
    const store = path.join(root, 'cfg', 'associations.json');
    const e = client.associate(root, 'deployment/web', { container: 'app', store });
    assert.equal(e.namespace, ns);
    assert.equal(e.context, client.context);
    assert.equal(e.kubeconfig, clusterEnv('NH_TEST_KUBECONFIG'));
    assert.deepEqual(nh.association(path.join(root, 'x'), { store }), e);
  });
});
