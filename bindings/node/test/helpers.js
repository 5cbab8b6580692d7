'use strict';
// Shared by the suites: the test cluster's environment and a namespace per run.
// Cluster tests need NH_TEST_KUBECONFIG (`source <(scripts/test-cluster env)`);
// without it they FAIL, unless NH_SKIP_CLUSTER_TESTS=1 says to skip them.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const nh = require('..');

const skipCluster = !process.env.NH_TEST_KUBECONFIG && process.env.NH_SKIP_CLUSTER_TESTS === '1';

/**
 * The options of a describe() of cluster tests: skipped when
 * NH_SKIP_CLUSTER_TESTS=1 says so; without the environment a failing test
 * takes its place (a failing hook would only cancel the tests).
 */
function clusterSuite(test) {
  if (skipCluster) return { skip: 'NH_TEST_KUBECONFIG is not set and NH_SKIP_CLUSTER_TESTS=1' };
  if (!process.env.NH_TEST_KUBECONFIG) {
    test('the test cluster environment is set', () => clusterEnv('NH_TEST_KUBECONFIG'));
    return { skip: 'no test cluster' };
  }
  return {};
}

function clusterEnv(name) {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run \`source <(scripts/test-cluster env)\` (or set NH_SKIP_CLUSTER_TESTS=1)`);
  return value;
}

function unique(prefix) {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

/** Creates a namespace for the suite; returns {client, ns, cm(name)} and a cleanup function. */
async function setupNamespace() {
  const kubeconfig = clusterEnv('NH_TEST_KUBECONFIG');
  const ns = unique(`nh-node-${process.pid}`);
  const admin = new nh.Client({ kubeconfig, timeoutMs: 15000 });
  await admin.create('/api/v1/namespaces', { metadata: { name: ns } });
  const client = new nh.Client({ kubeconfig, namespace: ns, timeoutMs: 15000 });
  const cm = (name = '') => `/api/v1/namespaces/${ns}/configmaps${name ? `/${name}` : ''}`;
  const cleanup = async () => {
    client.close();
    await admin.delete(`/api/v1/namespaces/${ns}`);
    admin.close();
  };
  return { kubeconfig, client, ns, cm, cleanup };
}

/** A kubeconfig for a server that is not there, in a temp dir. */
function fakeKubeconfig(server = 'https://127.0.0.1:1') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nh-node-'));
  const file = path.join(dir, 'kubeconfig');
  fs.writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "${server}", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: secret-token}
contexts:
- name: ctx
  context: {cluster: c, user: u, namespace: team}
current-context: ctx
`,
  );
  return file;
}

module.exports = { nh, skipCluster, clusterSuite, clusterEnv, unique, setupNamespace, fakeKubeconfig };
