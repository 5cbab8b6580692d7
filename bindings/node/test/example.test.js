'use strict';
// examples/node/workload_tree.js as an extension author would run it: it prints the tree with
// dev status, follows the watch while this process (another one) starts dev mode, hands the
// session's sync to the agent and ends dev mode, and shows the detached sync's status that it
// reads from the agent. kwok runs no containers: as in live.test.js the test plays the kubelet
// for the sync sidecar (a real nhsyncd) and a ClusterPortForward sends the pod's sync port to it.
const { test, describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { nh, REPO, sleep, clusterSuite, setupSyncLoop } = require('./helpers');

/** The example's output, line by line, and a way to wait for a line. */
class Output {
  constructor(stream) {
    this.lines = [];
    this.waiters = [];
    let rest = '';
    stream.on('data', (d) => {
      const parts = (rest + d).split('\n');
      rest = parts.pop();
      for (const l of parts) {
        this.lines.push(l);
        for (const w of [...this.waiters]) if (w.re.test(l)) w.resolve(l);
      }
    });
  }
  /** Where the output is now: waitFor(re, ms, mark()) looks only at what comes after. */
  mark() {
    return this.lines.length;
  }
  waitFor(re, ms = 60000, from = 0) {
    const found = this.lines.slice(from).find((l) => re.test(l));
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = { re, resolve: (l) => { clearTimeout(timer); this.waiters.splice(this.waiters.indexOf(w), 1); resolve(l); } };
      const timer = setTimeout(() => reject(new Error(`no line ${re} in:\n${this.lines.join('\n')}`)), ms);
      this.waiters.push(w);
    });
  }
}

describe('examples/node/workload_tree.js', clusterSuite(test), () => {
  let loop;
  let client;
  let ns;
  let dir;
  const startSidecar = (root) => loop.startSidecar(root);
  before(async () => {
    loop = await setupSyncLoop('nodeexample');
    ({ client, ns, dir } = loop);
    fs.mkdirSync(path.join(dir, 'src'));
    fs.mkdirSync(path.join(dir, 'agent'), { mode: 0o700 });
    fs.writeFileSync(path.join(dir, 'src/hello.txt'), 'hello\n');
    // require('nocalhost') in the example finds this checkout's binding.
    fs.mkdirSync(path.join(dir, 'modules'));
    fs.symlinkSync(path.resolve(__dirname, '..'), path.join(dir, 'modules/nocalhost'));
  });
  after(async () => {
    if (loop) await loop.cleanup();
  });

  it('prints the tree, follows dev mode started and ended elsewhere, and shows the detached sync', async () => {
    const agentDir = path.join(dir, 'agent');
    const env = { ...process.env, NODE_PATH: path.join(dir, 'modules'), NH_AGENT_DIR: agentDir, NH_AGENT_GRACE_MS: '1000' };
    const example = spawn(process.execPath,
      [path.join(REPO, 'examples/node/workload_tree.js'), '--kubeconfig', process.env.NH_TEST_KUBECONFIG, '--namespace', ns,
        '--seconds', '300'],
      { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const out = new Output(example.stdout);
    let stopSidecar = () => {};
    try {
      await out.waitFor(/^tree of namespace .*: 1 workloads$/);
      await out.waitFor(/^ {2}deployment\/web \d\/1 app=default\.application \[not in dev mode\]$/);
      await out.waitFor(/^agent: holds nothing$/);

      // Another process (this one) starts dev mode with a sync: the example's watch shows it.
      const src = path.join(dir, 'src');
      const starting = client.devStart('deployment', 'web', {
        image: 'registry.example/dev:1', sidecarImage: 'registry.example/nhsyncd:test', timeoutMs: 120000, localDir: src,
      });
      starting.catch(() => {});
      stopSidecar = await startSidecar(path.join(dir, 'root'));
      const session = await starting;
      await out.waitFor(/^dev mode started: deployment\/web .*\[dev replace by .* \(libnocalhost\)/);

      // The sync goes to the agent; the example reads its status from there.
      const id = await session.detach({ dir: agentDir });
      assert.match(id, /^s-[0-9a-f]+$/);
      const line = await out.waitFor(new RegExp(`^ {2}sync ${id} deployment/web <- ${src}: idle, 0 out of sync, 0 conflicts, last sync 20`));
      assert.ok(line);
      fs.writeFileSync(path.join(src, 'later.txt'), 'synced by the agent\n');
      for (let i = 0; i < 300 && !fs.existsSync(path.join(dir, 'root/later.txt')); i++) await sleep(100);
      assert.equal(fs.readFileSync(path.join(dir, 'root/later.txt'), 'utf8'), 'synced by the agent\n');
      const st = await nh.agent.status(id, { dir: agentDir });
      assert.equal(st.kind, 'deployment');
      assert.equal(st.local_dir, src);

      // Stopped and ended from here: the example sees both.
      const mark = out.mark();
      await nh.agent.stop(id, { dir: agentDir });
      await out.waitFor(/^agent: holds nothing$/, 60000, mark);
      assert.deepEqual(await nh.agent.list({ dir: agentDir }), []);
      await session.end();
      await out.waitFor(/^dev mode ended: deployment\/web .*\[not in dev mode\]$/, 60000, mark);
    } finally {
      stopSidecar();
      example.kill('SIGTERM');
      await new Promise((r) => example.once('exit', r));
    }
  });
});
