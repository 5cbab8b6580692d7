'use strict';
// Shared by the suites: the test cluster's environment, a namespace per run, and the
// namespace of a dev session's whole loop whose sync sidecar the test plays.
// Cluster tests need NH_TEST_KUBECONFIG (`source <(scripts/test-cluster env)`);
// without it they FAIL, unless NH_SKIP_CLUSTER_TESTS=1 says to skip them.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const nh = require('..');

const REPO = path.resolve(__dirname, '../../..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

/** Polls fn() every 100 ms until it returns something truthy (that value), or throws after `ms`. */
async function waitFor(fn, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A local port nothing listens on (bound, then closed). */
async function freePort() {
  const s = net.createServer();
  const port = await new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s.address().port)));
  await new Promise((r) => s.close(r));
  return port;
}

/** The build's nhsyncd, or $NH_NHSYNCD. */
function nhsyncdPath() {
  const p = process.env.NH_NHSYNCD || path.join(REPO, 'build/tools/nhsyncd/nhsyncd');
  assert.ok(fs.existsSync(p), `nhsyncd not found at ${p}: build it (ninja -C build) or set NH_NHSYNCD`);
  return p;
}

/**
 * The namespace of a dev session's whole loop (named after `prefix`): Deployment web with one
 * kwok pod, and a ClusterPortForward that sends the pods' sync port 7710 to a local port, where
 * startSidecar(root) runs nhsyncd as the dev spec's sidecar would (its command and args, the
 * token from the session Secret): kwok runs no containers, so the test plays the kubelet for the
 * sidecar. Returns {client, ns, port, dir (a temp dir), startSidecar(root) -> stop(), cleanup()}.
 */
async function setupSyncLoop(prefix) {
  nhsyncdPath();
  const kwok = '/apis/kwok.x-k8s.io/v1alpha1';
  const ns = unique(`nh-${prefix}-${process.pid}`);
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nh-${prefix}-`));
  const client = new nh.Client({ kubeconfig: clusterEnv('NH_TEST_KUBECONFIG'), namespace: ns, timeoutMs: 15000 });
  await client.create('/api/v1/namespaces', { metadata: { name: ns } });
  await client.create(`${kwok}/clusterportforwards`, {
    apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'ClusterPortForward', metadata: { name: ns },
    spec: { selector: { matchNamespaces: [ns] }, forwards: [{ ports: [7710], target: { address: '127.0.0.1', port } }] },
  });
  await client.create(`/apis/apps/v1/namespaces/${ns}/deployments`, {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
    spec: {
      replicas: 1, selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image: 'registry.example/web:1' }] } },
    },
  });
  async function startSidecar(root) {
    const spec = await waitFor(async () => {
      const d = await client.get(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
      return d.spec.template.spec.containers.find((c) => c.name === 'nh-sync');
    }, 60000, 'the sync sidecar in the dev spec');
    const argv = [...(spec.command || []), ...(spec.args || [])];
    assert.equal(argv[0], 'nhsyncd');
    for (let i = 1; i + 1 < argv.length; i++) {
      if (argv[i] === '--root') argv[i + 1] = root;
      if (argv[i] === '--listen') argv[i + 1] = `127.0.0.1:${port}`;
      if (argv[i] === '--state-dir') argv[i + 1] = `${root}.state`;
    }
    const env = { ...process.env };
    for (const e of spec.env || []) {
      const ref = e.valueFrom.secretKeyRef;
      const secret = await client.get(`/api/v1/namespaces/${ns}/secrets/${ref.name}`);
      env[e.name] = Buffer.from(secret.data[ref.key], 'base64').toString();
    }
    fs.mkdirSync(root, { recursive: true });
    const proc = spawn(nhsyncdPath(), argv.slice(1), { env, stdio: 'ignore' });
    return () => proc.kill('SIGTERM');
  }
  const cleanup = async () => {
    await client.delete(`${kwok}/clusterportforwards/${ns}`);
    await client.delete(`/api/v1/namespaces/${ns}`);
    client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { client, ns, port, dir, startSidecar, cleanup };
}

module.exports = {
  nh, REPO, sleep, skipCluster, clusterSuite, clusterEnv, unique, setupNamespace, fakeKubeconfig, waitFor, freePort, nhsyncdPath,
  setupSyncLoop,
};
