'use strict';
// libnocalhost for Node.js: put Kubernetes workloads into dev mode.
//
// A thin, idiomatic layer over the C library (include/nocalhost.h): every
// call that can block returns a Promise and runs off the main thread; every
// such call accepts `{ signal }` (an AbortSignal) to cancel it; long-running
// streams are EventEmitters; handles have an explicit close().

const { EventEmitter } = require('node:events');
const native = require('./native');
const nativeLib = native;
const errors = require('./errors');
const live = require('./live');

const { CancelledError, InvalidArgumentError } = errors;

const WatchEventType = Object.freeze({ ADDED: 1, MODIFIED: 2, DELETED: 3, RELISTED: 4 });
const WATCH_EVENT_NAMES = Object.freeze({ 1: 'ADDED', 2: 'MODIFIED', 3: 'DELETED', 4: 'RELISTED' });
const LogLevel = Object.freeze({ ERROR: 0, WARN: 1, INFO: 2, DEBUG: 3, TRACE: 4 });

/**
 * Runs fn(cancel) with a native Cancel that `signal` triggers; the one place
 * where AbortSignals meet the C library's cancellation tokens.
 */
function withSignal(signal, fn) {
  if (signal == null) return fn(undefined);
  const cancel = new native.Cancel();
  const onAbort = () => cancel.trigger();
  if (signal.aborted) cancel.trigger();
  else signal.addEventListener('abort', onAbort, { once: true });
  let result;
  try {
    result = fn(cancel);
  } catch (e) {
    signal.removeEventListener('abort', onAbort);
    throw e;
  }
  return Promise.resolve(result).finally(() => signal.removeEventListener('abort', onAbort));
}

function encodeBody(body) {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return JSON.stringify(body);
}

const PATCH_TYPES = Object.freeze({
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
});

/** A connection to one cluster, as a kubeconfig context describes it. */
class Client {
  /**
   * @param {object} [options] kubeconfig (path or array of paths; default:
   *   kubectl's rules), context, namespace, timeoutMs (per request, default
   *   30000), maxRetries, userAgent. Throws ConfigError/TLSError at once when
   *   the kubeconfig is unusable; makes no request.
   */
  constructor(options = {}) {
    let { kubeconfig } = options;
    if (Array.isArray(kubeconfig)) kubeconfig = kubeconfig.join(':');
    this._native = new native.Client({ ...options, kubeconfig });
  }

  /** Release the client. Idempotent; Promises still pending reject with CancelledError. */
  close() {
    this._native.close();
  }

  get closed() {
    return this._native.closed;
  }

  /** The namespace in effect. */
  get namespace() {
    return this._native.namespace;
  }

  /** The API server URL in effect. */
  get server() {
    return this._native.server;
  }

  /** The kubeconfig context in effect ('' in-cluster). */
  get context() {
    return this._native.context;
  }

  /** The server's /version object. */
  async serverVersion({ signal } = {}) {
    return JSON.parse(await withSignal(signal, (cancel) => this._native.serverVersion(cancel)));
  }

  /**
   * One request to the API server. Resolves with {status, body, json()} for a
   * 2xx answer; rejects with the matching NocalhostError subclass otherwise
   * (NotFoundError, ConflictError, ForbiddenError, ... with httpStatus and reason).
   */
  async request({ method = 'GET', path, body, contentType, timeoutMs, signal } = {}) {
    if (typeof path !== 'string') throw errors.makeError(-2, 'request: path must be a string');
    const answer = await withSignal(signal, (cancel) =>
      this._native.request({ method, path, body: encodeBody(body), contentType, timeoutMs }, cancel),
    );
    return {
      status: answer.status,
      body: answer.body,
      json() {
        return answer.body ? JSON.parse(answer.body) : null;
      },
    };
  }

  /** GET path and parse the JSON answer. */
  async get(path, options = {}) {
    return (await this.request({ ...options, method: 'GET', path })).json();
  }

  /** POST body to a collection; resolves with the created object. */
  async create(path, body, options = {}) {
    return (await this.request({ ...options, method: 'POST', path, body })).json();
  }

  /** PUT body; resolves with the stored object. */
  async replace(path, body, options = {}) {
    return (await this.request({ ...options, method: 'PUT', path, body })).json();
  }

  /** PATCH path; options.patchType is 'merge' (default), 'strategic', 'json' or 'apply'. */
  async patch(path, body, { patchType = 'merge', ...options } = {}) {
    const contentType = PATCH_TYPES[patchType];
    if (!contentType) throw new InvalidArgumentError(`unknown patchType ${patchType}`, -2);
    return (await this.request({ ...options, method: 'PATCH', path, body, contentType })).json();
  }

  /** DELETE path; resolves with the server's answer. */
  async delete(path, options = {}) {
    return (await this.request({ ...options, method: 'DELETE', path })).json();
  }

  // -- dev mode -------------------------------------------------------------

  /**
   * Put a workload into dev mode and wait until its dev pod is ready.
   * Kinds: 'deployment', 'statefulset', 'replicaset', 'daemonset', 'job',
   * 'cronjob', 'pod' (and their short names), or a custom kind as
   * '<resource>.<group>' ('rollouts.argoproj.io', with apiVersion,
   * podTemplatePath and replicasPath as JSON pointers).
   * Options: image (required unless a Nocalhost dev config names one),
   * namespace, container, workdir, env ({NAME: value} or ['NAME=value']),
   * resources (object), sidecarImage, syncPort, timeoutMs, rollbackOnFailure
   * (default true), owner, leaseDurationS, mode ('replace' (default) or
   * 'duplicate': a private copy per developer), developer, configPath (a
   * .nocalhost/config.yaml or a directory holding one), appName,
   * ignoreClusterConfig, imagePullPolicy, patches ([{type, patch}], patch an
   * object or JSON text), persistentDirs ([{path, capacity, storageClass}]),
   * localDir and sync (the whole loop), onEvent(DevEvent) (throwing stops the
   * start, which rolls back), signal. Resolves with a Session; rejects with
   * BusyError, NotFoundError, ForbiddenError, ConfigError, TimeoutError,
   * CancelledError, ...
   */
  async devStart(kind, name, { signal, onEvent, ...options } = {}) {
    const args = devStartArgs(options);
    const native = await withSignal(signal, (cancel) =>
      nativeLib.devStart(this._native, kind, name, args, cancel, devEvents(onEvent)),
    );
    return new Session(this, native, options.developer);
  }

  /**
   * The effective Nocalhost dev config of a workload's container, as devStart
   * would use it: merged from configPath, the workload's dev.nocalhost
   * annotation and the dev.nocalhost.config.<appName> ConfigMap, with the
   * explicit options (those of devStart) on top. Resolves with
   * {sources, container, image, workDir, env, portForward, ..., ignored};
   * changes nothing. Rejects with ConfigError (file, line, field), NotFoundError.
   */
  async devConfigResolve(kind, name, { signal, ...options } = {}) {
    const args = devStartArgs(options);
    return JSON.parse(await withSignal(signal, (cancel) => nativeLib.devConfigResolve(this._native, kind, name, args, cancel)));
  }

  /**
   * End dev mode (restore the original in place); resolves with a DevEndResult
   * value. Idempotent. mode 'duplicate' ends `developer`'s copy only.
   */
  async devEnd(kind, name, { signal, onEvent, mode, ...options } = {}) {
    return withSignal(signal, (cancel) =>
      nativeLib.devEnd(this._native, kind, name, { ...options, mode: devMode(mode) }, cancel, devEvents(onEvent)),
    );
  }

  /** The dev-mode status of one workload ({dev_mode: boolean, ...}); mode/developer pick a copy. */
  async devStatus(kind, name, { signal, namespace, mode, developer } = {}) {
    const q = { namespace, mode: devMode(mode), developer };
    return JSON.parse(await withSignal(signal, (cancel) => nativeLib.devStatus(this._native, kind, name, q, cancel)));
  }

  /** Every workload in dev mode in the namespace (or all namespaces). */
  async devList({ signal, namespace, allNamespaces } = {}) {
    return JSON.parse(
      await withSignal(signal, (cancel) => nativeLib.devList(this._native, { namespace, allNamespaces }, cancel)),
    );
  }

  /** The Session of a workload already in dev mode (NotFoundError otherwise); mode/developer pick a copy. */
  async devAttach(kind, name, { signal, namespace, mode, developer } = {}) {
    const q = { namespace, mode: devMode(mode), developer };
    const native = await withSignal(signal, (cancel) => nativeLib.devAttach(this._native, kind, name, q, cancel));
    return new Session(this, native, developer);
  }

  /**
   * The PersistentVolumeClaims dev mode made for persistentDirs, of one
   * workload or, without kind and name (devPvcList() or devPvcList({namespace})),
   * of the namespace: [{name, namespace, workload, path, capacity,
   * storage_class, phase}]. They outlive dev mode.
   */
  async devPvcList(kind, name, options) {
    if (kind !== null && typeof kind === 'object') [kind, name, options] = [undefined, undefined, kind];
    const { signal, namespace } = options || {};
    if ((kind == null) !== (name == null)) throw new InvalidArgumentError('devPvcList: give both kind and name, or neither', -2);
    return JSON.parse(
      await withSignal(signal, (cancel) => nativeLib.devPvcList(this._native, kind ?? null, name ?? null, { namespace }, cancel)),
    );
  }

  /**
   * Delete a workload's dev-mode PersistentVolumeClaim `claim` (its name or
   * its dir), or all of them without one; resolves with the names deleted.
   * Rejects with NotFoundError when there is no such claim of dev mode.
   */
  async devPvcDelete(kind, name, claim, options) {
    if (claim !== null && typeof claim === 'object') [claim, options] = [undefined, claim];
    const { signal, namespace } = options || {};
    return JSON.parse(
      await withSignal(signal, (cancel) =>
        nativeLib.devPvcDelete(this._native, kind, name, { namespace, claim: claim ?? undefined }, cancel),
      ),
    );
  }

  // -- streams --------------------------------------------------------------

  /** The pod that streams to `target` ('deployment/web', 'pod/p', 'p') would use. */
  async resolveTarget(target, { signal, namespace } = {}) {
    return withSignal(signal, (cancel) => nativeLib.targetResolve(this._native, target, { namespace }, cancel));
  }

  /**
   * Run argv (no shell) in the target's container and wait for it to end.
   * Options: stdin (string/Buffer), namespace, container, tty, timeoutMs,
   * signal. Resolves with {exitCode, stdout: Buffer, stderr: Buffer}; a
   * non-zero exit code is no error.
   */
  async exec(target, argv, { signal, ...options } = {}) {
    return withSignal(signal, (cancel) => nativeLib.execRun(this._native, target, argv, options, cancel));
  }

  /**
   * Start argv (no shell) in the target's container as an interactive
   * command. Options: stdin (default true), tty, namespace, container,
   * timeoutMs and signal (connecting; close() stops the command). Resolves with an Exec once
   * connected: write(), closeStdin(), resize(), 'stdout'/'stderr' events,
   * wait() for the exit code, close().
   */
  async execStart(target, argv, { signal, ...options } = {}) {
    return withSignal(signal, (cancel) => new live.Exec(this._native, target, argv, options, cancel).ready);
  }

  /**
   * Forward local ports to the target's pod. `ports`: 'LOCAL:REMOTE', ':REMOTE'
   * or '0:REMOTE' (a free port), or a number. Options: namespace, address
   * (default 127.0.0.1), follow (default true), timeoutMs, signal (binding the ports).
   * Resolves with a PortForward once every port is bound.
   */
  async portForward(target, ports, { signal, ...options } = {}) {
    const list = (Array.isArray(ports) ? ports : [ports]).map(String);
    return withSignal(signal, (cancel) => new live.PortForward(this._native, target, list, options, cancel).ready);
  }

  /**
   * Watch a collection. Returns a Watch (an EventEmitter and async iterable)
   * that is running already. Without resourceVersion the existing objects
   * come first as ADDED. Options: resourceVersion, labelSelector,
   * fieldSelector, durationMs (end after that long; default: until closed),
   * signal.
   */
  watch(path, options = {}) {
    return new Watch(this, path, options);
  }
}

const DevEventType = Object.freeze({ PHASE: 1, POD: 2, WARNING: 3, INFO: 4 });
const DEV_EVENT_NAMES = Object.freeze({ 1: 'PHASE', 2: 'POD', 3: 'WARNING', 4: 'INFO' });
const DevEndResult = Object.freeze({ NOT_IN_DEV_MODE: 0, RESTORED: 1, RESTORED_OVERWRITING: 2, WORKLOAD_GONE: 3 });
const DevMode = Object.freeze({ REPLACE: 0, DUPLICATE: 1 });
const DEV_MODE_NAMES = Object.freeze({ 0: 'replace', 1: 'duplicate' });

/** 'replace' | 'duplicate' | a DevMode value -> the C value. */
function devMode(mode) {
  if (mode === undefined || mode === null) return DevMode.REPLACE;
  if (typeof mode === 'string') {
    const m = DevMode[mode.toUpperCase()];
    if (m === undefined) throw new InvalidArgumentError(`unknown dev mode '${mode}' (valid: 'replace', 'duplicate')`, -2);
    return m;
  }
  if (mode !== DevMode.REPLACE && mode !== DevMode.DUPLICATE) throw new InvalidArgumentError(`unknown dev mode ${mode}`, -2);
  return mode;
}

/** JSON text of a value given as an object / array, or as JSON text already. */
function jsonText(value) {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The options of devStart / devConfigResolve as the native layer takes them. */
function devStartArgs({ env, resources, patches, persistentDirs, mode, ...options }) {
  const envList = Array.isArray(env) ? env : Object.entries(env || {}).map(([k, v]) => `${k}=${v}`);
  let patchesJson;
  if (Array.isArray(patches)) {
    patchesJson = JSON.stringify(
      patches.map((p) => (p && typeof p.patch === 'object' && p.patch !== null ? { ...p, patch: JSON.stringify(p.patch) } : p)),
    );
  } else {
    patchesJson = jsonText(patches);
  }
  return {
    ...options,
    env: envList,
    resourcesJson: jsonText(resources),
    patchesJson,
    persistentDirsJson: jsonText(persistentDirs),
    mode: devMode(mode),
  };
}

function devEvents(onEvent) {
  if (!onEvent) return undefined;
  return (type, phase, message, detail) =>
    onEvent({ type: DEV_EVENT_NAMES[type] || String(type), phase, message, detail: detail ? JSON.parse(detail) : null });
}

/**
 * A workload in dev mode, as seen when started, attached or refreshed.
 * close() releases the handle; dev mode stays on (end() or client.devEnd()
 * ends it). Keeps its client alive. `token` is a secret: never log it.
 */
class Session {
  constructor(client, native, developer) {
    this.client = client;
    this._native = native;
    this._developer = developer; // as given to devStart / devAttach
  }

  get kind() { return this._native.kind; }
  get name() { return this._native.name; }
  get namespace() { return this._native.namespace; }
  /** The dev pod's name; '' when none exists right now. */
  get pod() { return this._native.pod; }
  get container() { return this._native.container; }
  get sidecarContainer() { return this._native.sidecarContainer; }
  get workdir() { return this._native.workdir; }
  get owner() { return this._native.owner; }
  get since() { return this._native.since; }
  get syncPort() { return this._native.syncPort; }
  get token() { return this._native.token; }
  /** 'replace' or 'duplicate'. */
  get mode() { return DEV_MODE_NAMES[this._native.mode]; }
  /**
   * The Deployment the dev pod runs from when it is not the workload itself:
   * the copy in duplicate mode, the generated Deployment of DaemonSets, Jobs,
   * CronJobs, Pods and custom kinds; else ''.
   */
  get workload() { return this._native.workload; }
  /**
   * Duplicate mode: the developer whose copy this is (what end() and
   * devAttach() find it by); otherwise ''.
   */
  get developer() {
    const developer = this._native.developer;
    if (!developer && this.mode === 'duplicate') return this._developer || '';
    return developer;
  }
  get closed() { return this._native.closed; }

  /**
   * The session's state as devStatus() reports it, without a request; while
   * the session runs the whole loop, also port_forwards: [{spec, local_port,
   * remote_port}], the dev config's port-forwards.
   */
  status() {
    return JSON.parse(this._native.status());
  }

  /** Look for the dev pod again (e.g. after it restarted). */
  async refresh({ signal } = {}) {
    return withSignal(signal, (cancel) => this._native.refresh(cancel));
  }

  /**
   * The session's running sync (from devStart({localDir}) or startSync()), or
   * null. Its events are reported only for a sync made by startSync().
   */
  sync() {
    if (this._sync && !this._sync.closed) return this._sync;
    let none = false;
    const sync = new live.Sync((onEvent) => {
      const r = nativeLib.sessionSync(this._native, onEvent);
      if (r !== null) return r;
      none = true;
      return [null, Promise.resolve()];
    });
    if (none) return null;
    return (this._sync = sync);
  }

  /**
   * Forward to the session's sync sidecar, sync `localDir` into the work dir
   * and resolve with the Sync once the first full sync is acknowledged.
   * Options: the sync options of startSync() (the dev config's sync settings
   * fill what they leave at the defaults), timeoutMs (first sync; default
   * 5 minutes), onEvent (the dev-mode phases "forward", "sync", "synced"),
   * signal. Rejects with InvalidStateError (already syncing),
   * UnauthorizedError (the sidecar refused the token), TimeoutError, ...
   */
  async startSync(localDir, { signal, onEvent, timeoutMs, ...syncOptions } = {}) {
    const dev = devEvents(onEvent);
    return withSignal(signal, (cancel) => {
      const sync = new live.Sync(
        (cb) => nativeLib.sessionSyncStart(this._native, this.client._native, localDir, syncOptions, timeoutMs || 0, cancel, cb),
        dev,
      );
      this._sync = sync;
      return sync.ready;
    });
  }

  /** Stop the session's sync (its index is saved) and its port-forward; dev mode stays on. */
  async stopSync() {
    if (this._sync) await this._sync.close();
    else {
      const s = this._native.closed ? null : nativeLib.sessionSync(this._native);
      if (s) {
        nativeLib.liveStop(s[0]);
        await s[1].catch(() => {});
      }
    }
    this._sync = null;
  }

  /** Run a command in the dev container (see Client.exec). */
  async exec(argv, options = {}) {
    const workload = this.workload;
    const target = workload ? `deployment/${workload}` : `${this.kind.toLowerCase()}/${this.name}`;
    return this.client.exec(target, argv, {
      container: this.container,
      namespace: this.namespace,
      ...options,
    });
  }

  /** End dev mode for this workload (this session: its mode and developer) and close the handle. */
  async end(options = {}) {
    const result = await this.client.devEnd(this.kind, this.name, {
      namespace: this.namespace,
      mode: this.mode,
      developer: this.developer || undefined,
      ...options,
    });
    this.close();
    return result;
  }

  /** Stop the session's sync, if any, and release the handle (dev mode stays on). Idempotent. */
  close() {
    if (this._sync) this._sync.close();  // its thread keeps the C session until the sync stopped
    this._sync = null;
    this._native.close();
  }
}

/**
 * A running watch. Events: 'event' (WatchEvent), 'error' (the error that
 * ended it; only emitted when someone listens), 'end'. `done` settles when the
 * watch ends. close() stops it. Also `for await (const event of watch)`.
 */
class Watch extends EventEmitter {
  constructor(client, path, { signal, ...options } = {}) {
    super();
    this.client = client; // kept alive while the watch runs
    this._cancel = new native.Cancel();
    this._closed = false;
    // Throws at once on a closed client or bad arguments.
    const started = client._native.watch(path, options, this._cancel, (type, raw) => this._event(type, raw));
    const onAbort = () => this._cancel.trigger();
    if (signal) {
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    this.done = started.then(
      () => this._end(),
      (error) => {
        if (this._closed && error instanceof CancelledError) return this._end();
        if (this.listenerCount('error') > 0) this.emit('error', error);
        this._end();
        throw error;
      },
    );
    this.done.catch(() => {}); // rejections are for those who await `done`
    this.done.finally(() => signal && signal.removeEventListener('abort', onAbort)).catch(() => {});
  }

  _event(type, raw) {
    const event = {
      type: WATCH_EVENT_NAMES[type] || String(type),
      raw,
      get object() {
        return JSON.parse(raw);
      },
    };
    this.emit('event', event);
  }

  _end() {
    this._closed = true;
    this.emit('end');
  }

  /** Stop the watch; resolves once it has ended. Idempotent. */
  close() {
    this._closed = true;
    this._cancel.trigger();
    return this.done.then(
      () => undefined,
      () => undefined,
    );
  }

  get closed() {
    return this._closed;
  }

  async *[Symbol.asyncIterator]() {
    const queue = [];
    let wake = null;
    let finished = false;
    const onEvent = (e) => {
      queue.push(e);
      if (wake) wake();
    };
    const onEnd = () => {
      finished = true;
      if (wake) wake();
    };
    this.on('event', onEvent);
    this.once('end', onEnd);
    try {
      for (;;) {
        if (queue.length) {
          yield queue.shift();
          continue;
        }
        if (finished) break;
        await new Promise((resolve) => (wake = resolve));
        wake = null;
      }
      await this.done; // rethrows the error that ended the watch
    } finally {
      this.off('event', onEvent);
      this.off('end', onEnd);
      if (!finished) await this.close();
    }
  }
}

/**
 * Send the library's log lines at `level` and below to handler(level, message),
 * called on the main thread. null restores the default (discard, or stderr
 * when NH_LOG is set). Messages never contain secrets.
 */
function setLogHandler(handler, level = LogLevel.INFO) {
  native.setLogHandler(handler || null, level);
}

module.exports = {
  Client,
  Exec: live.Exec,
  PortForward: live.PortForward,
  Sync: live.Sync,
  startSync: live.startSync,
  ForwardEventType: live.ForwardEventType,
  SyncMode: live.SyncMode,
  SyncCompression: live.SyncCompression,
  Session,
  Watch,
  DevEventType,
  DevEndResult,
  DevMode,
  devDefaults: Object.freeze({
    sidecarImage: native.devDefaultSidecarImage,
    workdir: native.devDefaultWorkdir,
    syncPort: native.devDefaultSyncPort,
  }),
  WatchEventType,
  LogLevel,
  setLogHandler,
  libraryVersion: native.libraryVersion,
  version: native.headerVersion,
  ...errors,
};
