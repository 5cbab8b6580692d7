'use strict';
// Dev spaces and applications against the real test cluster: a space made by the admin and
// used with the developer's own kubeconfig (allowed in the space, refused elsewhere), shared,
// renewed, listed and deleted; the bookinfo application of tests/app installed, listed and
// uninstalled leaving nothing of it.
const { test, describe, it } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { nh, clusterSuite, clusterEnv, unique, setupNamespace } = require('./helpers');

const BOOKINFO = path.join(__dirname, '..', '..', '..', 'tests', 'app', 'fixtures', 'bookinfo');

describe('spaces and applications', clusterSuite(test), () => {
  it('creates a space whose kubeconfig works in it only, shares, renews and deletes it', async () => {
    const admin = new nh.Client({ kubeconfig: clusterEnv('NH_TEST_KUBECONFIG'), timeoutMs: 15000 });
    const name = unique('nh-jsspace');
    try {
      const more = [{ apiGroups: [''], resources: ['configmaps'], verbs: ['create'] }];
      const access = await admin.createSpace(name, 'alice', { cpu: '2', memory: '2Gi', pods: 10, extraRules: more });
      assert.equal(access.service_account, 'nh-alice');
      assert.equal(access.namespace, name);
      const alice = new nh.Client({ kubeconfigData: access.kubeconfig, timeoutMs: 15000 });
      try {
        await alice.create(`/api/v1/namespaces/${name}/configmaps`, { metadata: { name: 'mine' } });
        await assert.rejects(alice.get('/api/v1/namespaces/default/configmaps'), nh.ForbiddenError);
        await assert.rejects(alice.createSpace(`${name}-x`, 'mallory'), (e) => {
          assert.ok(e instanceof nh.ForbiddenError);
          assert.match(e.message, /create namespaces \(cluster-wide\)/);
          return true;
        });
      } finally {
        alice.close();
      }
      const bob = await admin.shareSpace(name, 'bob');
      assert.equal(bob.service_account, 'nh-bob');
      const renewed = await admin.renewSpace(name, 'bob', { tokenSeconds: 3600 });
      assert.notEqual(renewed.kubeconfig, bob.kubeconfig);
      const mine = (await admin.spaces({ developer: 'bob' })).filter((s) => s.name === name);
      assert.equal(mine.length, 1);
      assert.deepEqual(mine[0].developers.map((d) => d.developer).sort(), ['alice', 'bob']);
      assert.equal(mine[0].quota.pods, '10');
      await assert.rejects(admin.createSpace(name, 'carol'), nh.AlreadyExistsError);
      await assert.rejects(admin.createSpace(`${name}-y`, 'carol', { cpu: 'plenty' }), nh.InvalidArgumentError);
      await assert.rejects(admin.createSpace(name, 'carol', { cpus: '2' }), /did you mean 'cpu'/);
    } finally {
      await admin.deleteSpace(name).catch((e) => { if (!(e instanceof nh.NotFoundError)) throw e; });
    }
    assert.equal((await admin.spaces()).filter((s) => s.name === name).length, 0);
    await assert.rejects(admin.get(`/api/v1/namespaces/${name}`), nh.NotFoundError);
    admin.close();
  });

  it('installs an application, lists it and uninstalls exactly what it installed', async () => {
    const env = await setupNamespace();
    const { client, ns } = env;
    try {
      const app = await client.installApp('bookinfo', BOOKINFO);
      assert.equal(app.namespace, ns);
      assert.equal(app.type, 'rawManifestLocal');
      assert.deepEqual(app.workloads.map((w) => w.name), ['details', 'productpage', 'reviews']);
      const d = await client.get(`/apis/apps/v1/namespaces/${ns}/deployments/productpage`);
      assert.equal(d.metadata.annotations['dev.nocalhost/application-name'], 'bookinfo');
      assert.deepEqual((await client.apps()).map((a) => a.name), ['bookinfo']);
      await assert.rejects(client.installApp('bookinfo', BOOKINFO), nh.AlreadyExistsError);
      await assert.rejects(client.installApp('other', BOOKINFO, { set: ['a=b'] }), /--values and --set are for Helm charts/);
      await client.uninstallApp('bookinfo');
      assert.deepEqual(await client.apps(), []);
      await assert.rejects(client.get(`/apis/apps/v1/namespaces/${ns}/deployments/productpage`), nh.NotFoundError);
      await assert.rejects(client.uninstallApp('bookinfo'), nh.NotFoundError);
    } finally {
      await env.cleanup();
    }
  });
});
