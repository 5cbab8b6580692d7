'use strict';
// The client against the real test cluster: requests, typed errors, watches, cancellation.
const { test, describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { nh, clusterSuite, clusterEnv, unique, setupNamespace } = require('./helpers');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('cluster', clusterSuite(test), () => {
  let env;
  before(async () => {
    env = await setupNamespace();
  });
  after(async () => {
    if (env) await env.cleanup();
  });

  it('reports the server version', async () => {
    const { client, ns } = env;
    assert.equal(client.namespace, ns);
    assert.match(client.server, /^https:\/\/127\.0\.0\.1:/);
    const v = await client.serverVersion();
    assert.match(v.gitVersion, /^v1\./);
  });

  it('creates, reads, updates, patches and deletes a ConfigMap', async () => {
    const { client, cm } = env;
    const name = unique('crud');
    const created = await client.create(cm(), { metadata: { name }, data: { a: '1' } });
    assert.equal(created.metadata.name, name);
    assert.deepEqual((await client.get(cm(name))).data, { a: '1' });
    created.data.a = '2';
    assert.equal((await client.replace(cm(name), created)).data.a, '2');
    assert.deepEqual((await client.patch(cm(name), { data: { b: '3' } })).data, { a: '2', b: '3' });
    assert.equal((await client.patch(cm(name), { data: { c: '4' } }, { patchType: 'strategic' })).data.c, '4');
    const patched = await client.patch(cm(name), [{ op: 'remove', path: '/data/a' }], { patchType: 'json' });
    assert.equal(patched.data.a, undefined);
    const list = await client.get(cm());
    assert.ok(list.items.some((i) => i.metadata.name === name));
    const answer = await client.request({ method: 'DELETE', path: cm(name) });
    assert.equal(answer.status, 200);
    await assert.rejects(client.get(cm(name)), nh.NotFoundError);
  });

  it('returns the raw status and body, and takes Buffers', async () => {
    const { client, cm } = env;
    const name = unique('raw');
    const answer = await client.request({ method: 'POST', path: cm(), body: Buffer.from(JSON.stringify({ metadata: { name } })) });
    assert.equal(answer.status, 201);
    assert.equal(typeof answer.body, 'string');
    assert.equal(answer.json().metadata.name, name);
  });

  it('rejects with NotFoundError carrying httpStatus and reason', async () => {
    const { client, cm } = env;
    await assert.rejects(client.get(cm('does-not-exist')), (e) => {
      assert.ok(e instanceof nh.NotFoundError);
      assert.equal(e.code, 'NH_ENOTFOUND');
      assert.equal(e.httpStatus, 404);
      assert.equal(e.reason, 'NotFound');
      assert.match(e.message, /does-not-exist/);
      return true;
    });
  });

  it('rejects a stale update with ConflictError', async () => {
    const { client, cm } = env;
    const name = unique('conflict');
    const first = await client.create(cm(), { metadata: { name }, data: { v: '1' } });
    await client.patch(cm(name), { data: { v: '2' } });
    first.data.v = 'stale';
    await assert.rejects(client.replace(cm(name), first), (e) => {
      assert.ok(e instanceof nh.ConflictError);
      assert.deepEqual([e.httpStatus, e.reason], [409, 'Conflict']);
      return true;
    });
  });

  it('rejects duplicates with AlreadyExistsError and bad objects with InvalidError', async () => {
    const { client, cm } = env;
    const name = unique('exists');
    await client.create(cm(), { metadata: { name } });
    await assert.rejects(client.create(cm(), { metadata: { name } }), (e) => e instanceof nh.AlreadyExistsError && e.httpStatus === 409);
    await assert.rejects(client.create(cm(), { metadata: { name: 'Not_Valid' } }), (e) => e instanceof nh.InvalidError && e.httpStatus === 422);
  });

  it('rejects an identity without rights with ForbiddenError', async () => {
    const nobody = new nh.Client({ kubeconfig: clusterEnv('NH_TEST_NOBODY_TOKEN_KUBECONFIG'), timeoutMs: 15000 });
    try {
      await assert.rejects(nobody.get(env.cm()), (e) => {
        assert.ok(e instanceof nh.ForbiddenError);
        assert.deepEqual([e.code, e.httpStatus, e.reason], ['NH_EFORBIDDEN', 403, 'Forbidden']);
        return true;
      });
    } finally {
      nobody.close();
    }
  });

  it('emits watch events', async () => {
    const { client, cm } = env;
    const name = unique('watched');
    const seen = [];
    const watch = client.watch(cm(), { fieldSelector: `metadata.name=${name}` });
    watch.on('event', async (e) => {
      seen.push([e.type, e.object.metadata.name]);
      if (e.type === 'ADDED') {
        await client.patch(cm(name), { data: { n: '1' } });
        await client.delete(cm(name));
      }
      if (e.type === 'DELETED') watch.close();
    });
    const ended = new Promise((r) => watch.once('end', r));
    await client.create(cm(), { metadata: { name } });
    await watch.done;
    await ended;
    assert.deepEqual(seen, [['ADDED', name], ['MODIFIED', name], ['DELETED', name]]);
    assert.equal(watch.closed, true);
  });

  it('iterates watch events with for await', async () => {
    const { client, cm } = env;
    const name = unique('iter');
    await client.create(cm(), { metadata: { name, labels: { it: name } } });
    const got = [];
    for await (const e of client.watch(cm(), { labelSelector: `it=${name}`, durationMs: 30000 })) {
      got.push(e.type);
      if (e.type === 'ADDED') await client.delete(cm(name));
      if (e.type === 'DELETED') break;
    }
    assert.equal(got[0], 'ADDED');
    assert.equal(got.at(-1), 'DELETED');
  });

  it('ends a watch after durationMs without error', async () => {
    const t0 = Date.now();
    const events = [];
    for await (const e of env.client.watch(env.cm(), { labelSelector: 'none=here', durationMs: 500 })) events.push(e);
    assert.deepEqual(events, []);
    assert.ok(Date.now() - t0 < 5000);
  });

  it('rejects `done` and emits error with what ended the watch', async () => {
    const nobody = new nh.Client({ kubeconfig: clusterEnv('NH_TEST_NOBODY_TOKEN_KUBECONFIG'), timeoutMs: 15000 });
    const watch = nobody.watch(env.cm());
    const emitted = new Promise((r) => watch.once('error', r));
    await assert.rejects(watch.done, nh.ForbiddenError);
    assert.ok((await emitted) instanceof nh.ForbiddenError);
    nobody.close();
  });

  it('stops the watch when a listener throws and rejects with that error', async () => {
    const { client, cm } = env;
    const name = unique('boom');
    await client.create(cm(), { metadata: { name } });
    const watch = client.watch(cm(), { fieldSelector: `metadata.name=${name}` });
    watch.on('event', (e) => {
      throw new RangeError(`listener failed on ${e.object.metadata.name}`);
    });
    await assert.rejects(watch.done, (e) => e instanceof RangeError && e.message.includes(name));
  });

  it('cancels a watch and a request through an AbortSignal', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const t0 = Date.now();
    const watch = env.client.watch(env.cm(), { signal: ac.signal });
    await assert.rejects(watch.done, (e) => e instanceof nh.CancelledError && e.name === 'AbortError');
    assert.ok(Date.now() - t0 < 2000);
    await assert.rejects(env.client.get(env.cm(), { signal: ac.signal }), (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR');
  });

  it('close() cancels pending calls and the client stays closed', async () => {
    const c = new nh.Client({ kubeconfig: env.kubeconfig });
    const watch = c.watch(env.cm());
    setTimeout(() => c.close(), 300);
    await assert.rejects(watch.done, nh.CancelledError);
    assert.equal(c.closed, true);
    await assert.rejects(c.serverVersion(), nh.InvalidStateError);
  });

  it('a watch keeps its client alive', async () => {
    const name = unique('alive');
    const watch = new nh.Client({ kubeconfig: env.kubeconfig }).watch(env.cm(), { fieldSelector: `metadata.name=${name}` });
    if (global.gc) global.gc();
    await sleep(50);
    const first = new Promise((r) => watch.once('event', r));
    await env.client.create(env.cm(), { metadata: { name } });
    const e = await first;
    assert.deepEqual([e.type, e.object.metadata.name], ['ADDED', name]);
    await watch.close();
  });

  it('runs many requests at once on one client', async () => {
    const { client, cm } = env;
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const name = unique(`par${i}`);
        await client.create(cm(), { metadata: { name } });
        assert.equal((await client.get(cm(name))).metadata.name, name);
        await client.delete(cm(name));
      }),
    );
  });

  it('keeps the event loop free while watches run', async () => {
    const watches = Array.from({ length: 6 }, () => env.client.watch(env.cm(), { labelSelector: 'none=here' }));
    // Six watches would fill the libuv pool (4 threads) if they ran there; requests must still finish.
    await env.client.get(env.cm());
    await require('node:fs/promises').readFile(__filename);
    await Promise.all(watches.map((w) => w.close()));
  });
});
