'use strict';
// libnocalhost for Node.js: put Kubernetes workloads into dev mode.
//
// A thin, idiomatic layer over the C library (include/nocalhost.h): every
// call that can block returns a Promise and runs off the main thread; every
// such call accepts `{ signal }` (an AbortSignal) to cancel it; long-running
// streams are EventEmitters; handles have an explicit close().

const native = require('./native');
const nativeLib = native;
const errors = require('./errors');
const live = require('./live');
const { Feed } = require('./feed');
const tree = require('./tree');
const ide = require('./ide');

const { checkOptions, KEYS } = require('./options');
const { withSignal } = require('./signal');

const { CancelledError, ConfigError, InvalidArgumentError, InvalidStateError, NotFoundError } = errors;

// Symbol.asyncDispose (Node 18.18+, 20.4+); older runtimes get a registered symbol of that name.
const asyncDispose = Symbol.asyncDispose || Symbol.for('Symbol.asyncDispose');

/** An enum whose values are their names (what events and results carry), from the C values in order. */
function namedEnum(names) {
  return Object.freeze(Object.fromEntries(names.map((n) => [n, n])));
}

const WATCH_EVENT_NAMES = Object.freeze({ 1: 'ADDED', 2: 'MODIFIED', 3: 'DELETED', 4: 'RELISTED' });
const WatchEventType = namedEnum(Object.values(WATCH_EVENT_NAMES));
const LOG_LEVEL_NAMES = Object.freeze(['ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE']);
const LogLevel = namedEnum(LOG_LEVEL_NAMES);

/** The C value of a LogLevel name (or of a number, as before). */
function logLevelValue(level) {
  if (typeof level === 'number') return level;
  const v = LOG_LEVEL_NAMES.indexOf(String(level).toUpperCase());
  if (v < 0) throw new InvalidArgumentError(`unknown log level '${level}' (valid: ${LOG_LEVEL_NAMES.join(', ')})`, -2);
  return v;
}

/**
 * (kind, name, options) of a dev-mode call given as the CLI's 'KIND/NAME'
 * ('deployment/web', options) or as kind and name apart.
 */
function workloadArgs(kind, name, options) {
  if (name !== null && typeof name === 'object') [name, options] = [undefined, name];
  if (name === undefined || name === null) {
    const text = String(kind);
    const slash = text.indexOf('/');
    if (slash <= 0 || slash === text.length - 1) {
      throw new InvalidArgumentError(`expected KIND/NAME, e.g. deployment/web, got '${text}'`, -2);
    }
    return [text.slice(0, slash), text.slice(slash + 1), options];
  }
  if (typeof kind === 'string' && kind.includes('/')) {
    throw new InvalidArgumentError(`give the workload as 'KIND/NAME' or as kind and name, not both (got '${kind}' and '${name}')`, -2);
  }
  return [kind, name, options];
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
   *   the kubeconfig is unusable; makes no request. kubeconfigData: the
   *   kubeconfig as text held in memory instead of a path.
   */
  constructor(options = {}) {
    checkOptions('Client', options);
    let { kubeconfig } = options;
    if (options.kubeconfigData != null && kubeconfig != null) {
      throw new InvalidArgumentError('give the kubeconfig as a path (kubeconfig) or as text (kubeconfigData), not both', -2);
    }
    if (Array.isArray(kubeconfig)) kubeconfig = kubeconfig.join(':');
    this._native = new native.Client({ ...options, kubeconfig });
    // The agent makes a client of its own and needs the text again (the library keeps none).
    this._kubeconfigData = options.kubeconfigData;
    this._kubeconfig = kubeconfig;
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
  async serverVersion(options) {
    const { signal } = checkOptions('call', options);
    return JSON.parse(await withSignal(signal, (cancel) => this._native.serverVersion(cancel)));
  }

  /**
   * One request to the API server. Resolves with {status, body, json()} for a
   * 2xx answer; rejects with the matching NocalhostError subclass otherwise
   * (NotFoundError, ConflictError, ForbiddenError, ... with httpStatus and reason).
   */
  async request(options) {
    const { method = 'GET', path, body, contentType, timeoutMs, signal } = checkOptions('request', options);
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
    checkOptions('get', options, KEYS.verb);
    return (await this.request({ ...options, method: 'GET', path })).json();
  }

  /** POST body to a collection; resolves with the created object. */
  async create(path, body, options = {}) {
    checkOptions('create', options, KEYS.verb);
    return (await this.request({ ...options, method: 'POST', path, body })).json();
  }

  /** PUT body; resolves with the stored object. */
  async replace(path, body, options = {}) {
    checkOptions('replace', options, KEYS.verb);
    return (await this.request({ ...options, method: 'PUT', path, body })).json();
  }

  /** PATCH path; options.patchType is 'merge' (default), 'strategic', 'json' or 'apply'. */
  async patch(path, body, allOptions) {
    const { patchType = 'merge', ...options } = checkOptions('patch', allOptions);
    const contentType = PATCH_TYPES[patchType];
    if (!contentType) throw new InvalidArgumentError(`unknown patchType ${patchType}`, -2);
    return (await this.request({ ...options, method: 'PATCH', path, body, contentType })).json();
  }

  /** DELETE path; resolves with the server's answer. */
  async delete(path, options = {}) {
    checkOptions('delete', options, KEYS.verb);
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
   * patchErrorsFatal (default false: a patch the API server refuses is a
   * warning event of phase 'patch' and the start goes on; true: it fails the
   * start, which rolls back), headers (['NAME=VALUE']: duplicate mode's requests
   * carrying them go to the copy) and router ('auto', 'istio', 'gateway-api'),
   * localDir and sync (the whole loop), onEvent(DevEvent) (throwing stops the
   * start, which rolls back), signal, endOnExit (see Session). The workload
   * is 'KIND/NAME' as the CLI takes it (devStart('deployment/web', {image}))
   * or kind and name apart. Resolves with a Session; rejects with BusyError,
   * NotFoundError, ForbiddenError, ConfigError, TimeoutError, AbortError (the
   * signal), InvalidArgumentError (an unknown kind), ...; throws a TypeError
   * for an option it does not take.
   */
  async devStart(kind, name, allOptions) {
    [kind, name, allOptions] = workloadArgs(kind, name, allOptions);
    const { signal, onEvent, endOnExit, ...options } = checkOptions('devStart', allOptions);
    const args = devStartArgs(options);
    const native = await withSignal(signal, (cancel) =>
      nativeLib.devStart(this._native, kind, name, args, cancel, devEvents(onEvent)),
    );
    return new Session(this, native, endOnExit);
  }

  /**
   * Scoped dev mode: start it (as devStart, with the same arguments), run
   * `fn(session)`, and end dev mode when fn settles, also when it throws or
   * rejects; resolves with what fn returned. When fn failed and ending fails
   * too, fn's error is thrown, with the end's error as its `devEndError`.
   *   await client.withDevMode('deployment/web', { image }, async (session) => { ... });
   */
  async withDevMode(...args) {
    const fn = args.pop();
    if (typeof fn !== 'function') throw new TypeError('withDevMode: the last argument must be a function');
    const [kind, name, options] = workloadArgs(...args);
    const session = await this.devStart(kind, name, { ...options, endOnExit: true });
    return session._scope(fn);
  }

  /**
   * The effective Nocalhost dev config of a workload's container, as devStart
   * would use it: merged from configPath, the workload's dev.nocalhost
   * annotation and the dev.nocalhost.config.<appName> ConfigMap, with the
   * explicit options (those of devStart) on top. Resolves with
   * {sources, container, image, workDir, env, portForward, ..., ignored};
   * changes nothing. Rejects with ConfigError (file, line, field), NotFoundError.
   */
  async devConfigResolve(kind, name, allOptions) {
    [kind, name, allOptions] = workloadArgs(kind, name, allOptions);
    const { signal, ...options } = checkOptions('devConfigResolve', allOptions);
    const args = devStartArgs(options);
    return JSON.parse(await withSignal(signal, (cancel) => nativeLib.devConfigResolve(this._native, kind, name, args, cancel)));
  }

  /**
   * End dev mode (restore the original in place); resolves with a DevEndResult
   * name ('RESTORED', 'NOT_IN_DEV_MODE', ...). Idempotent. mode 'duplicate'
   * ends `developer`'s copy only. A workload marked as in dev mode whose
   * session record is gone rejects with InvalidStateError (naming force);
   * force: true ends it anyway, removing every mark of dev mode it finds, and
   * reports what it could not restore as warning events of phase 'force'.
   */
  async devEnd(kind, name, allOptions) {
    [kind, name, allOptions] = workloadArgs(kind, name, allOptions);
    const { signal, onEvent, mode, ...options } = checkOptions('devEnd', allOptions);
    const result = await withSignal(signal, (cancel) =>
      nativeLib.devEnd(this._native, kind, name, { ...options, mode: devMode(mode) }, cancel, devEvents(onEvent)),
    );
    return DEV_END_NAMES[result] || String(result);
  }

  /** The dev-mode status of one workload ({dev_mode: boolean, ...}); mode/developer pick a copy. */
  async devStatus(kind, name, allOptions) {
    [kind, name, allOptions] = workloadArgs(kind, name, allOptions);
    const { signal, namespace, mode, developer } = checkOptions('devStatus', allOptions);
    const q = { namespace, mode: devMode(mode), developer };
    return JSON.parse(await withSignal(signal, (cancel) => nativeLib.devStatus(this._native, kind, name, q, cancel)));
  }

  /**
   * nh dev env: the container's environment as the kubelet resolves it, for a
   * local process. format 'json' (the default: {kind, name, namespace,
   * container, pod, env: [{name, source, secret, value}], notes}; an entry left
   * out has withheld or unresolved instead of value) or 'dotenv' (the text of
   * a dotenv file). Values from Secrets only with secrets: true.
   */
  async devEnv(kind, name, allOptions) {
    [kind, name, allOptions] = workloadArgs(kind, name, allOptions);
    const { signal, namespace, container, format = 'json', secrets = false } = checkOptions('devEnv', allOptions);
    if (format !== 'json' && format !== 'dotenv') throw new TypeError(`devEnv: format is 'json' or 'dotenv', not '${format}'`);
    const o = { namespace, container, dotenv: format === 'dotenv', secrets: Boolean(secrets) };
    const text = await withSignal(signal, (cancel) => nativeLib.devEnv(this._native, kind, name, o, cancel));
    return format === 'json' ? JSON.parse(text) : text;
  }

  /** Every workload in dev mode in the namespace (or all namespaces). */
  async devList(options) {
    const { signal, namespace, allNamespaces } = checkOptions('devList', options);
    return JSON.parse(
      await withSignal(signal, (cancel) => nativeLib.devList(this._native, { namespace, allNamespaces }, cancel)),
    );
  }

  /**
   * The Session of a workload already in dev mode (NotFoundError otherwise);
   * mode/developer pick a copy; endOnExit as in devStart.
   */
  async devAttach(kind, name, allOptions) {
    [kind, name, allOptions] = workloadArgs(kind, name, allOptions);
    const { signal, namespace, mode, developer, endOnExit } = checkOptions('devAttach', allOptions);
    const q = { namespace, mode: devMode(mode), developer };
    const native = await withSignal(signal, (cancel) => nativeLib.devAttach(this._native, kind, name, q, cancel));
    return new Session(this, native, endOnExit);
  }

  /**
   * nh dev run: the Nocalhost dev config's command.<command> in a workload in
   * dev mode, in its work dir (devRun('build', 'deployment/web')). Options:
   * namespace, mode, developer (which session), and those of Session.run().
   */
  async devRun(command, kind, name, allOptions) {
    [kind, name, allOptions] = workloadArgs(kind, name, allOptions);
    const { namespace, mode, developer, ...options } = checkOptions('devRun', allOptions);
    const session = await this.devAttach(kind, name, { namespace, mode, developer, signal: options.signal });
    try {
      return await session.run(command, options);
    } finally {
      session.close();
    }
  }

  /**
   * nh terminal: an interactive shell in the target's container, as an Exec
   * (see execStart). The shell is options.shell (split into words), else the
   * Nocalhost dev config's shell recorded when the workload went into dev
   * mode, else zsh, bash or sh, whichever `which` finds. Other options: those
   * of execStart (stdin defaults to true; give tty: true when a terminal
   * drives it).
   */
  async terminal(target, allOptions) {
    const { shell: given, ...options } = checkOptions('terminal', allOptions);
    let shell = given ?? (await this._devConfigShell(target, options));
    if (shell == null) shell = await this._probeShell(target, options);
    return this.execStart(target, shell.split(/\s+/).filter(Boolean), options);
  }

  async _devConfigShell(target, { namespace, signal }) {
    const slash = target.indexOf('/');
    if (slash <= 0 || ['pod', 'po', 'pods'].includes(target.slice(0, slash))) return null;
    let session;
    try {
      session = await this.devAttach(target, { namespace, signal });
    } catch (e) {
      if (e instanceof NotFoundError) return null; // not in dev mode
      throw e;
    }
    try {
      const shell = (session.status().config || {}).shell;
      return typeof shell === 'string' && shell ? shell : null;
    } finally {
      session.close();
    }
  }

  async _probeShell(target, { namespace, container, signal }) {
    for (const candidate of ['zsh', 'bash', 'sh']) {
      let found;
      try {
        found = await this.exec(target, ['which', candidate], { namespace, container, signal });
      } catch (e) {
        // A missing `which` (kwok reports non-zero exits as errors): try the next.
        if (SHELL_PROBE_FATAL.has(e.errno) || !(e instanceof errors.NocalhostError)) throw e;
        continue;
      }
      const path = found.stdout.toString().trim();
      if (found.exitCode === 0 && path) return path;
    }
    return 'sh';
  }

  /**
   * The PersistentVolumeClaims dev mode made for persistentDirs, of one
   * workload or, without kind and name (devPvcList() or devPvcList({namespace})),
   * of the namespace: [{name, namespace, workload, path, capacity,
   * storage_class, phase}]. They outlive dev mode.
   */
  async devPvcList(kind, name, options) {
    if (kind !== null && typeof kind === 'object') [kind, name, options] = [undefined, undefined, kind];
    else if (typeof kind === 'string' && kind.includes('/')) [kind, name, options] = workloadArgs(kind, name, options);
    const { signal, namespace } = checkOptions('devPvcList', options, KEYS.devPvc);
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
    // 'KIND/NAME' form: devPvcDelete('deployment/web', [claim], [options]).
    if (typeof kind === 'string' && kind.includes('/')) [name, claim, options] = [undefined, name, claim];
    if (claim !== null && typeof claim === 'object') [claim, options] = [undefined, claim];
    [kind, name] = workloadArgs(kind, name);
    const { signal, namespace } = checkOptions('devPvcDelete', options, KEYS.devPvc);
    return JSON.parse(
      await withSignal(signal, (cancel) =>
        nativeLib.devPvcDelete(this._native, kind, name, { namespace, claim: claim ?? undefined }, cancel),
      ),
    );
  }

  // -- streams --------------------------------------------------------------

  /** The pod that streams to `target` ('deployment/web', 'pod/p', 'p') would use. */
  /**
   * Forward local ports to `target` from your agent (docs/agent.md), so that
   * the forward outlives this process; resolves with its id (see agent.status).
   * Ports as portForward takes them; a local port below 1024 is refused with
   * InvalidArgumentError before anything starts. Options: namespace, and the
   * agent's (dir, agentPath, timeoutMs).
   */
  async agentForward(target, ports, options) {
    const o = checkOptions('agentForward', options);
    return nativeLib.agentForwardStart(this._native, target, ports, { ...o, kubeconfigData: this._kubeconfigData });
  }

  /**
   * Take the sync `id` back from your agent into this process: resolves with
   * the Session, syncing the same local directory here from the index the
   * agent saved. Options: the agent's (dir, agentPath, timeoutMs).
   */
  async agentReattach(id, options) {
    const o = checkOptions('agent', options);
    return new Session(this, await nativeLib.agentReattach(this._native, id, o));
  }

  async resolveTarget(target, options) {
    const { signal, namespace } = checkOptions('resolveTarget', options);
    return withSignal(signal, (cancel) => nativeLib.targetResolve(this._native, target, { namespace }, cancel));
  }

  /**
   * Run argv (no shell) in the target's container and wait for it to end.
   * Options: stdin (string/Buffer), namespace, container, tty, timeoutMs,
   * signal. Resolves with {exitCode, stdout: Buffer, stderr: Buffer}; a
   * non-zero exit code is no error.
   */
  async exec(target, argv, allOptions) {
    const { signal, ...options } = checkOptions('exec', allOptions);
    return withSignal(signal, (cancel) => nativeLib.execRun(this._native, target, argv, options, cancel));
  }

  /**
   * Start argv (no shell) in the target's container as an interactive
   * command. Options: stdin (default true), tty, namespace, container,
   * timeoutMs and signal (connecting; close() stops the command). Resolves with an Exec once
   * connected: write(), closeStdin(), resize(), 'stdout'/'stderr' events,
   * wait() for the exit code, close().
   */
  async execStart(target, argv, allOptions) {
    const { signal, ...options } = checkOptions('execStart', allOptions);
    return withSignal(signal, (cancel) => new live.Exec(this._native, target, argv, options, cancel).ready);
  }

  /**
   * Forward local ports to the target's pod. `ports`: 'LOCAL:REMOTE', ':REMOTE'
   * or '0:REMOTE' (a free port), or a number. Options: namespace, address
   * (default 127.0.0.1), follow (default true), timeoutMs, signal (binding the ports).
   * Resolves with a PortForward once every port is bound.
   */
  async portForward(target, ports, allOptions) {
    const { signal, ...options } = checkOptions('portForward', allOptions);
    const list = (Array.isArray(ports) ? ports : [ports]).map(String);
    return withSignal(signal, (cancel) => new live.PortForward(this._native, target, list, options, cancel).ready);
  }

  /**
   * Listen in the dev pod of kind/name (in dev mode) and carry each connection
   * back to a local port. `ports`: 'REMOTE:LOCAL' or a number (the same both
   * sides). Options: namespace, mode (DevMode; default REPLACE), developer,
   * address (where the listeners bind in the pod; default 127.0.0.1),
   * timeoutMs (the first tunnel), syncdDir, signal. Resolves with a
   * ReverseForward once every listener is bound in the pod.
   */
  async reverseForward(kind, name, ports, allOptions) {
    const { signal, ...options } = checkOptions('reverseForward', allOptions);
    const list = (Array.isArray(ports) ? ports : [ports]).map(String);
    return withSignal(signal, (cancel) => new live.ReverseForward(this._native, kind, name, list, options, cancel).ready);
  }

  /**
   * Watch a collection. Returns a Watch (an EventEmitter and async iterable)
   * that is running already. Without resourceVersion the existing objects
   * come first as ADDED. Options: resourceVersion, labelSelector,
   * fieldSelector, durationMs (end after that long; default: until closed),
   * signal.
   */
  watch(path, options = {}) {
    return new Watch(this, path, checkOptions('watch', options));
  }

  /**
   * The workloads of the namespace (or of all) with their application,
   * replicas, containers and dev mode: an array of entries (see nh_tree_list
   * in nocalhost.h). Options: kinds ('deploy,sts' or an array; default every
   * kind), namespace, allNamespaces, labelSelector, signal.
   */
  async tree(options = {}) {
    const { signal, ...rest } = checkOptions('tree', options);
    const o = tree.treeOptions(rest);
    return JSON.parse(await withSignal(signal, (cancel) => native.treeList(this._native, o, cancel)));
  }

  /**
   * The tree kept current (a TreeWatch, running already): every entry as
   * ADDED, then SYNCED, then ADDED / MODIFIED / DELETED as workloads, their
   * pods and dev mode change. Options as tree().
   */
  watchTree(options = {}) {
    return new tree.TreeWatch(this, checkOptions('tree', options));
  }

  /**
   * The pod (and container) whose logs `target` (a pod name or KIND/NAME)
   * means, as `kubectl logs` picks it: {pod, namespace, container, containers,
   * pods}. Options: namespace, container, signal.
   */
  async logPod(target, options = {}) {
    const { signal, ...rest } = checkOptions('logPod', options);
    const o = tree.logOptions(rest);
    return JSON.parse(await withSignal(signal, (cancel) => native.podLogsResolve(this._native, String(target), o, cancel)));
  }

  /**
   * The log lines of `target` (a LogStream, running already): 'line' events
   * and `for await (const line of client.logs(...))`. Options: namespace,
   * container, follow, tail (lines), since (seconds), previous, timestamps,
   * signal.
   */
  logs(target, options = {}) {
    return new tree.LogStream(this, target, checkOptions('logs', options));
  }

  /**
   * Whether the cluster answers and who we are (nh_client_check): {server,
   * version, authenticated, user: {username, uid, groups, extra} | null,
   * error: {code, name, message} | null}. Rejects when the server does not
   * answer (ConnectError, TLSError, ...). Options: signal.
   */
  async check(options = {}) {
    const { signal } = checkOptions('call', options);
    return JSON.parse(await withSignal(signal, (cancel) => native.clientCheck(this._native, cancel)));
  }

  /**
   * The rights devStart with these options and its end need, as the rules of an RBAC Role:
   * [{apiGroups, resources, verbs}...] (nh_dev_required_rights). Options: those of
   * devConfigResolve (mode, persistentDirs, patches, configPath ... count).
   */
  async devRequiredRights(kind, name, allOptions) {
    [kind, name, allOptions] = workloadArgs(kind, name, allOptions);
    const { signal, ...options } = checkOptions('devConfigResolve', allOptions);
    const args = devStartArgs(options);
    return JSON.parse(await withSignal(signal, (cancel) => native.devRequiredRights(this._native, kind, name, args, cancel)));
  }

  /**
   * Which of devRequiredRights the caller lacks, as the API server says (nh_dev_access_check):
   * {checked, reason, missing: [{verb, group, resource, subresource, why, needed}...], rules}.
   */
  async devAccessCheck(kind, name, allOptions) {
    [kind, name, allOptions] = workloadArgs(kind, name, allOptions);
    const { signal, ...options } = checkOptions('devConfigResolve', allOptions);
    const args = devStartArgs(options);
    return JSON.parse(await withSignal(signal, (cancel) => native.devAccessCheck(this._native, kind, name, args, cancel)));
  }

  /**
   * The dev config kept in the cluster (nh_dev_config_read): the workload's dev.nocalhost
   * annotation, or with app the ConfigMap dev.nocalhost.config.<app>: {config (text or null),
   * resource_version, source}. Options: namespace, app, signal.
   */
  async devConfigRead(kind, name, allOptions) {
    [kind, name, allOptions] = workloadArgs(kind, name, allOptions);
    const { signal, ...options } = checkOptions('devConfigRead', allOptions, ['namespace', 'app', 'signal']);
    return JSON.parse(await withSignal(signal, (cancel) => native.devConfigRead(this._native, kind, name, options, cancel)));
  }

  /**
   * Write a dev config (YAML) back where devConfigRead reads it (nh_dev_config_write), only over
   * resourceVersion (the one read) or, without it, only where there is none yet. Rejects with
   * InvalidArgumentError (invalid config), ConflictError (changed since read; nothing overwritten).
   * Options: config (required), resourceVersion, namespace, app, signal.
   */
  async devConfigWrite(kind, name, allOptions) {
    [kind, name, allOptions] = workloadArgs(kind, name, allOptions);
    const { signal, config, ...options } = checkOptions('devConfigWrite', allOptions,
      ['config', 'resourceVersion', 'namespace', 'app', 'signal']);
    if (typeof config !== 'string') throw new TypeError('devConfigWrite: config must be a string');
    return JSON.parse(await withSignal(signal, (cancel) => native.devConfigWrite(this._native, kind, name, config, options, cancel)));
  }

  /**
   * What the user chose for this workload's dev mode last, in this client's context and namespace
   * (nh_dev_profile_get): {image, container, workdir, ...} or null. Synchronous. Options: namespace, store.
   */
  devProfile(kind, name, options) {
    [kind, name, options] = workloadArgs(kind, name, options);
    const o = checkOptions('devProfile', options, ['namespace', 'store']);
    const text = native.devProfileGet(kind, name, { ...o, namespace: o.namespace || this.namespace, context: this.context });
    return text === null ? null : JSON.parse(text);
  }

  /** Remember image, container and workdir (those given) for this workload (nh_dev_profile_set). Synchronous. */
  rememberDevProfile(kind, name, options) {
    [kind, name, options] = workloadArgs(kind, name, options);
    const o = checkOptions('rememberDevProfile', options, ['image', 'container', 'workdir', 'namespace', 'store']);
    return JSON.parse(native.devProfileSet(kind, name, { ...o, namespace: o.namespace || this.namespace, context: this.context }));
  }

  // ---- dev spaces (nh_space_*, docs/spaces.md): the access the create, share and renew calls
  // resolve to is {developer, service_account, namespace, kubeconfig, expires}; its kubeconfig
  // holds a token (open it with new Client({ kubeconfigData: access.kubeconfig })).

  /**
   * Create space `name` (a namespace, its Role, quota and LimitRange) for `developer`
   * (nh_space_create). Options: existingNamespace, cpu, memory, storage, pods, extraRules (an
   * array of PolicyRules), tokenSeconds, signal.
   */
  async createSpace(name, developer, allOptions) {
    const { signal, extraRules, ...options } = checkOptions('createSpace', allOptions);
    const args = { ...options, developer, extraRulesJson: extraRules == null ? undefined : JSON.stringify(extraRules) };
    return JSON.parse(await withSignal(signal, (cancel) => native.spaceCreate(this._native, String(name), args, cancel)));
  }

  /** Give `developer` access to space `name` too (nh_space_share). Options: tokenSeconds, signal. */
  async shareSpace(name, developer, allOptions) {
    const { signal, ...options } = checkOptions('shareSpace', allOptions);
    return JSON.parse(await withSignal(signal, (cancel) => native.spaceShare(this._native, String(name), { ...options, developer }, cancel)));
  }

  /** A new token for `developer` in space `name` (nh_space_renew). Options: revoke, tokenSeconds, signal. */
  async renewSpace(name, developer, allOptions) {
    const { signal, ...options } = checkOptions('renewSpace', allOptions);
    return JSON.parse(await withSignal(signal, (cancel) => native.spaceRenew(this._native, String(name), { ...options, developer }, cancel)));
  }

  /** The spaces, only those of options.developer when given (nh_space_list). Options: developer, signal. */
  async spaces(allOptions) {
    const { signal, ...options } = checkOptions('spaces', allOptions);
    return JSON.parse(await withSignal(signal, (cancel) => native.spaceList(this._native, options, cancel)));
  }

  /**
   * Delete space `name`, everything it made and nothing else; with options.developer, only that
   * developer's access (nh_space_delete). Options: developer, signal.
   */
  async deleteSpace(name, allOptions) {
    const { signal, ...options } = checkOptions('deleteSpace', allOptions);
    await withSignal(signal, (cancel) => native.spaceDelete(this._native, String(name), options, cancel));
  }

  // ---- applications (nh_app_*, docs/apps.md): an application is {name, namespace, type, state,
  // objects: [{apiVersion, kind, name}], workloads: [{kind, name}]}.

  /**
   * Install application `name` from `source`: a directory of manifests, a Kustomize directory or
   * a Helm chart (nh_app_install). Options: namespace, valuesFiles, set (Helm's, "key=value"
   * each), configPath, signal. A failed install removes what it made.
   */
  async installApp(name, source, allOptions) {
    const { signal, ...options } = checkOptions('installApp', allOptions);
    return JSON.parse(await withSignal(signal, (cancel) => native.appInstall(this._native, String(name), String(source), options, cancel)));
  }

  /** Apply `source` to application `name` and delete what left it (nh_app_upgrade). Options as installApp. */
  async upgradeApp(name, source, allOptions) {
    const { signal, ...options } = checkOptions('upgradeApp', allOptions);
    return JSON.parse(await withSignal(signal, (cancel) => native.appUpgrade(this._native, String(name), String(source), options, cancel)));
  }

  /** The applications of the namespace, or of all (nh_app_list). Options: namespace, allNamespaces, signal. */
  async apps(allOptions) {
    const { signal, ...options } = checkOptions('apps', allOptions);
    return JSON.parse(await withSignal(signal, (cancel) => native.appList(this._native, options, cancel)));
  }

  /** Delete exactly what application `name` installed (nh_app_uninstall). Options: namespace, signal. */
  async uninstallApp(name, allOptions) {
    const { signal, ...options } = checkOptions('uninstallApp', allOptions);
    await withSignal(signal, (cancel) => native.appUninstall(this._native, String(name), options, cancel));
  }

  /**
   * associate() with this client's namespace (unless given), context and kubeconfig path.
   * Options: namespace, container, store.
   */
  associate(dir, kind, name, options) {
    [kind, name, options] = workloadArgs(kind, name, options);
    const o = checkOptions('associate', options, ['namespace', 'container', 'store']);
    return ide.associate(dir, kind, name, {
      ...o,
      namespace: o.namespace || this.namespace,
      context: this.context,
      kubeconfig: this._kubeconfig || process.env.KUBECONFIG || '',
    });
  }
}

const DEV_EVENT_NAMES = Object.freeze({ 1: 'PHASE', 2: 'POD', 3: 'WARNING', 4: 'INFO' });
const DevEventType = namedEnum(Object.values(DEV_EVENT_NAMES));
const DEV_END_NAMES = Object.freeze(['NOT_IN_DEV_MODE', 'RESTORED', 'RESTORED_OVERWRITING', 'WORKLOAD_GONE']);
const DevEndResult = namedEnum(DEV_END_NAMES);
// Dev modes are the names Session.mode and the CLI's --mode use.
const DevMode = Object.freeze({ REPLACE: 'replace', DUPLICATE: 'duplicate' });
const DEV_MODE_NAMES = Object.freeze({ 0: 'replace', 1: 'duplicate' });
/** Errors that end the shell probe of terminal() (others: try the next shell). */
const SHELL_PROBE_FATAL = new Set([-9, -13, -8, -12]);
/** nh dev run's commands and their names in the Nocalhost dev config. */
const RUN_COMMANDS = Object.freeze({
  build: 'build', run: 'run', debug: 'debug', 'hot-reload-run': 'hotReloadRun', 'hot-reload-debug': 'hotReloadDebug',
});

/** 'replace' | 'duplicate' (a DevMode) | the C value 0 or 1 -> the C value. */
function devMode(mode) {
  if (mode === undefined || mode === null) return 0;
  if (typeof mode === 'string') {
    const m = { replace: 0, duplicate: 1 }[mode.toLowerCase()];
    if (m === undefined) throw new InvalidArgumentError(`unknown dev mode '${mode}' (valid: 'replace', 'duplicate')`, -2);
    return m;
  }
  if (mode !== 0 && mode !== 1) throw new InvalidArgumentError(`unknown dev mode ${mode}`, -2);
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
  return {
    ...options,
    env: envList,
    resourcesJson: jsonText(resources),
    patchesJson: jsonText(patches), // each patch a JSON value (or JSON text): the C ABI takes both
    persistentDirsJson: jsonText(persistentDirs),
    mode: devMode(mode),
  };
}

/** Single-quoted for sh. */
function shQuote(text) {
  return `'${String(text).replace(/'/g, "'\\''")}'`;
}

function devEvents(onEvent) {
  if (!onEvent) return undefined;
  return (type, phase, message, detail) =>
    onEvent({ type: DEV_EVENT_NAMES[type] || String(type), phase, message, detail: detail ? JSON.parse(detail) : null });
}

/**
 * A workload in dev mode, as seen when started, attached or refreshed.
 *
 * Two forms, chosen when the session is made:
 * - scoped (devStart(..., { endOnExit: true }), or client.withDevMode()):
 *   disposing it ends dev mode, also when the code using it threw:
 *     await using session = await client.devStart('deployment/web', { image, endOnExit: true });
 *   (`await using` needs Node 24 or TypeScript; on Node 20 use withDevMode,
 *   or call `await session[Symbol.asyncDispose]()` in a finally block);
 * - the handle only (the default): close() or disposing releases the handle
 *   and dev mode stays on, for sessions meant to outlive the script (end()
 *   or client.devEnd() ends it later, from any process).
 * Keeps its client alive. `token` is a secret: never log it.
 */
class Session {
  constructor(client, native, endOnExit = false) {
    this.client = client;
    this._native = native;
    this.endOnExit = Boolean(endOnExit);
    this._ended = false;
    // What ending needs, kept so that the scope still ends dev mode after close().
    this._identity = { kind: this.kind, name: this.name, namespace: this.namespace, mode: this.mode,
      developer: this.developer || undefined };
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
   * Where streams to the dev pod go (exec, portForward, resolveTarget): the
   * workload that runs it, 'deployment/<workload>' or '<kind>/<name>', so
   * that they follow a replaced dev pod.
   */
  get target() { return this._native.target; }
  /**
   * Duplicate mode: the developer whose copy this is (what end() and
   * devAttach() find it by); otherwise ''.
   */
  get developer() { return this._native.developer; }
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
  async refresh(options) {
    const { signal } = checkOptions('call', options);
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
  async startSync(localDir, options) {
    const { signal, onEvent, timeoutMs, ...syncOptions } = checkOptions('sessionStartSync', options);
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

  /**
   * Hand this session's sync to your agent (docs/agent.md): it stops here
   * (its index saved) and the agent syncs the same directory with the same
   * settings from that index, also after this process exits; resolves with
   * the item's id once the agent's first sync is acknowledged. Dev mode is
   * untouched. Options: the agent's (dir, agentPath, timeoutMs). Rejects
   * with InvalidStateError when the session never synced.
   */
  async detach(options) {
    const o = checkOptions('agent', options);
    await this.stopSync();
    return nativeLib.agentDetach(this._native, this.client._native, { ...o, kubeconfigData: this.client._kubeconfigData });
  }

  /** Run a command in the dev container (see Client.exec). */
  async exec(argv, options = {}) {
    return this.client.exec(this.target, argv, {
      container: this.container,
      namespace: this.namespace,
      ...options,
    });
  }

  /**
   * nh dev run: the Nocalhost dev config's command.<command> ('build', 'run',
   * 'debug', 'hot-reload-run', 'hot-reload-debug') in the dev container, in
   * its work dir; resolves with {exitCode, stdout, stderr} once it ended (a
   * non-zero exit code is no error). The command comes from the config
   * recorded when dev mode started or, when that has none, from configPath /
   * appName. For the debug commands debug.remoteDebugPort is forwarded from
   * 127.0.0.1:localPort (default: the same port) while it runs. Options:
   * args (appended), configPath, appName, localPort, stdin, timeoutMs,
   * signal. Rejects with ConfigError (no such command), InvalidStateError (no
   * dev pod right now), InvalidArgumentError (an unknown command).
   */
  async run(command, allOptions) {
    const { args = [], configPath, appName, localPort, signal, ...execOptions } = checkOptions('sessionRun', allOptions);
    const key = RUN_COMMANDS[command] || command;
    if (!Object.values(RUN_COMMANDS).includes(key)) {
      throw new InvalidArgumentError(`unknown dev command '${command}' (valid: ${Object.keys(RUN_COMMANDS).join(', ')})`, -2);
    }
    await this.refresh({ signal });
    let config = this.status().config || {};
    let source = 'the dev config recorded when dev mode started';
    if (configPath !== undefined || appName !== undefined) {
      const resolved = await this.client.devConfigResolve(this.kind, this.name, {
        namespace: this.namespace, configPath, appName, container: this.container, signal,
      });
      if ('command' in resolved || 'debug' in resolved) [config, source] = [resolved, JSON.stringify(resolved.sources || [])];
    }
    const words = (config.command || {})[key];
    const target = `${this.kind.toLowerCase()}/${this.name}`;
    if (!Array.isArray(words) || words.length === 0) {
      throw new ConfigError(`${target} has no command.${key} in ${source}; add it under containers[].dev.command` +
        (configPath === undefined ? ', or give the config with configPath' : ''), -4);
    }
    const pod = this.pod;
    if (!pod) throw new InvalidStateError(`${target} has no dev pod running right now`, -22);
    // sh -c 'cd WORKDIR && exec "$@"' with the command as positional arguments: no quoting of its words.
    const argv = ['sh', '-c', `cd ${shQuote(this.workdir)} && exec "$@"`, 'nh-dev-run',
      ...words.map((w) => (typeof w === 'string' ? w : JSON.stringify(w))), ...args];
    const remote = Number((config.debug || {}).remoteDebugPort) || 0;
    const forward = (key === 'debug' || key === 'hotReloadDebug') && remote > 0
      ? await this.client.portForward(`pod/${pod}`, `${localPort || remote}:${remote}`, { namespace: this.namespace, signal })
      : null;
    try {
      return await this.client.exec(`pod/${pod}`, argv, { ...execOptions, namespace: this.namespace, container: this.container, signal });
    } finally {
      if (forward) await forward.close();
    }
  }

  /**
   * nh terminal: an interactive shell in the dev container (an Exec); the
   * shell is options.shell, else the dev config's shell, else zsh, bash or sh.
   * See Client.terminal.
   */
  async terminal(options = {}) {
    let { shell } = options;
    if (shell === undefined) {
      const configured = (this.status().config || {}).shell;
      if (typeof configured === 'string' && configured) shell = configured;
    }
    return this.client.terminal(this.target, { container: this.container, namespace: this.namespace, ...options, shell });
  }

  /** End dev mode for this workload (this session: its mode and developer) and close the handle. Works after close(). */
  async end(options = {}) {
    const { kind, name, ...identity } = this._identity;
    const result = await this.client.devEnd(kind, name, { ...identity, ...options });
    this._ended = true;
    this.close();
    return result;
  }

  /**
   * Disposal (`await using`): a scoped session (endOnExit) ends dev mode
   * unless end() ran already; otherwise the handle is closed and dev mode stays on.
   */
  async [asyncDispose]() {
    if (this.endOnExit && !this._ended) await this.end();
    else this.close();
  }

  /** Runs fn(this), then disposes of the session whatever fn did (withDevMode). */
  async _scope(fn) {
    let result;
    try {
      result = await fn(this);
    } catch (error) {
      try {
        await this[asyncDispose]();
      } catch (endError) {
        if (error !== null && typeof error === 'object') Object.defineProperty(error, 'devEndError', { value: endError });
      }
      throw error;
    }
    await this[asyncDispose]();
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
class Watch extends Feed {
  constructor(client, path, { signal, ...options } = {}) {
    super((cancel, onEvent) => client._native.watch(path, options, cancel, onEvent), signal);
    this.client = client; // kept alive while the watch runs
  }

  _convert(type, raw) {
    return {
      type: WATCH_EVENT_NAMES[type] || String(type),
      raw,
      get object() {
        return JSON.parse(raw);
      },
    };
  }
}

/**
 * Send the library's log lines at `level` and below to handler(level, message),
 * called on the main thread. null restores the default (discard, or stderr
 * when NH_LOG is set). Messages never contain secrets.
 */
function setLogHandler(handler, level = LogLevel.INFO) {
  const value = logLevelValue(level);
  native.setLogHandler(handler ? (l, message) => handler(LOG_LEVEL_NAMES[l] || l, message) : null, value);
}

/**
 * What your agent holds (docs/agent.md): syncs handed over with
 * Session.detach() and forwards started with Client.agentForward(), from any
 * process of yours. Each call takes the agent's options (dir, agentPath,
 * timeoutMs).
 */
const agent = Object.freeze({
  /** Every item's status: [{id, type, state, message, ...}] ([] when no agent runs). */
  async list(options) {
    return JSON.parse(await nativeLib.agentList(checkOptions('agent', options)));
  },
  /**
   * One item's status: state ('connecting', 'syncing', 'idle', 'disconnected',
   * 'error'; forwards 'forwarding', 'waiting'), message, files/bytes in flight,
   * out_of_sync, last_sync, conflicts; forwards: ports, pod, last_error.
   * Rejects with NotFoundError.
   */
  async status(id, options) {
    return JSON.parse(await nativeLib.agentStatus(id, checkOptions('agent', options)));
  },
  /** Stop an item: a sync stops (dev mode stays on), a forward closes. */
  async stop(id, options) {
    await nativeLib.agentStop(id, checkOptions('agent', options));
  },
  /** {running, pid, dir, socket, version, items}; never starts the agent. */
  async info(options) {
    return JSON.parse(await nativeLib.agentInfo(checkOptions('agent', options)));
  },
});

module.exports = {
  agent,
  Client,
  Exec: live.Exec,
  PortForward: live.PortForward,
  ReverseForward: live.ReverseForward,
  Sync: live.Sync,
  startSync: live.startSync,
  ForwardEventType: live.ForwardEventType,
  SyncMode: live.SyncMode,
  SyncCompression: live.SyncCompression,
  Session,
  Watch,
  TreeWatch: tree.TreeWatch,
  LogStream: tree.LogStream,
  TreeEventType: tree.TreeEventType,
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
  ...ide,
  libraryVersion: native.libraryVersion,
  version: native.headerVersion,
  ...errors,
};
