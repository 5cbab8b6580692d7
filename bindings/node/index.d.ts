// Type definitions of the nocalhost Node.js binding (lib/index.js).
/// <reference types="node" />
import { EventEmitter } from 'node:events';

/** The C library version this package was built against, e.g. "0.1.0". */
export const version: string;
/** The run-time version of the loaded libnocalhost. */
export const libraryVersion: string;

// -- errors -------------------------------------------------------------------

/** The C error codes by name (`ErrorCode.NH_ENOTFOUND === -9`). */
export const ErrorCode: Readonly<{
  NH_OK: 0;
  NH_ERROR: -1;
  NH_EINVAL: -2;
  NH_ENOMEM: -3;
  NH_ECONFIG: -4;
  NH_ECONNECT: -5;
  NH_ETLS: -6;
  NH_ETIMEOUT: -7;
  NH_ECANCELLED: -8;
  NH_ENOTFOUND: -9;
  NH_EEXISTS: -10;
  NH_ECONFLICT: -11;
  NH_EUNAUTHORIZED: -12;
  NH_EFORBIDDEN: -13;
  NH_EINVALID: -14;
  NH_EGONE: -15;
  NH_ETOOMANY: -16;
  NH_ESERVER: -17;
  NH_EPROTOCOL: -18;
  NH_EIO: -19;
  NH_EBUSY: -20;
  NH_EUNSUPPORTED: -21;
  NH_ESTATE: -22;
}>;
export type ErrorCodeName = keyof typeof ErrorCode;

/** Base class of every error the library reports. */
export class NocalhostError extends Error {
  constructor(message: string, errno?: number, httpStatus?: number, reason?: string);
  /** The C name of the code, e.g. 'NH_ENOTFOUND'. */
  readonly code: ErrorCodeName | 'NH_UNKNOWN';
  /** The C code, e.g. -9. */
  readonly errno: number;
  /** The HTTP status involved, or 0. */
  readonly httpStatus: number;
  /** The Kubernetes Status reason (e.g. 'NotFound'), or ''. */
  readonly reason: string;
}
/** NH_EINVAL */ export class InvalidArgumentError extends NocalhostError {}
/** NH_ENOMEM */ export class OutOfMemoryError extends NocalhostError {}
/** NH_ECONFIG: the kubeconfig is unusable (file, line and field in the message). */
export class ConfigError extends NocalhostError {}
/** NH_ECONNECT */ export class ConnectError extends NocalhostError {}
/** NH_ETLS */ export class TLSError extends NocalhostError {}
/** NH_ETIMEOUT */ export class TimeoutError extends NocalhostError {}
/** NH_ECANCELLED: an AbortSignal, close() or a listener stopped the call. */
export class CancelledError extends NocalhostError {}
/** NH_ENOTFOUND (HTTP 404) */ export class NotFoundError extends NocalhostError {}
/** NH_EEXISTS (HTTP 409 AlreadyExists) */ export class AlreadyExistsError extends NocalhostError {}
/** NH_ECONFLICT (HTTP 409 Conflict) */ export class ConflictError extends NocalhostError {}
/** NH_EUNAUTHORIZED (HTTP 401) */ export class UnauthorizedError extends NocalhostError {}
/** NH_EFORBIDDEN (HTTP 403) */ export class ForbiddenError extends NocalhostError {}
/** NH_EINVALID (HTTP 422/400) */ export class InvalidError extends NocalhostError {}
/** NH_EGONE (HTTP 410) */ export class GoneError extends NocalhostError {}
/** NH_ETOOMANY (HTTP 429) */ export class TooManyRequestsError extends NocalhostError {}
/** NH_ESERVER (HTTP 5xx) */ export class ServerError extends NocalhostError {}
/** NH_EPROTOCOL */ export class ProtocolError extends NocalhostError {}
/** NH_EIO */ export class IOError extends NocalhostError {}
/** NH_EBUSY: e.g. a dev-mode lock held by someone else. */ export class BusyError extends NocalhostError {}
/** NH_EUNSUPPORTED */ export class UnsupportedError extends NocalhostError {}
/** NH_ESTATE: e.g. the handle was closed. */ export class InvalidStateError extends NocalhostError {}

/**
 * How a call cancelled through its AbortSignal rejects, as Node's own APIs do: name 'AbortError',
 * code 'ABORT_ERR', cause the signal's reason; also a CancelledError (errno NH_ECANCELLED). A call
 * stopped by close() rejects with a plain CancelledError.
 */
export class AbortError extends CancelledError {
  readonly name: 'AbortError';
  /** 'ABORT_ERR' (Node's code), where other errors carry the C code's name. */
  readonly code: any;
  constructor(message?: string, options?: { cause?: unknown });
}

/** The error for a C code. */
export function makeError(errno: number, message: string, httpStatus?: number, reason?: string): NocalhostError;

// -- logging ------------------------------------------------------------------

/** Log levels; values are their names. */
export const LogLevel: Readonly<{ ERROR: 'ERROR'; WARN: 'WARN'; INFO: 'INFO'; DEBUG: 'DEBUG'; TRACE: 'TRACE' }>;
export type LogLevelValue = (typeof LogLevel)[keyof typeof LogLevel];
/**
 * Route the library's log lines at `level` and below to `handler` (on the main thread, with the
 * level's name); null restores the default. `level` may also be the C value (0-4).
 */
export function setLogHandler(handler: ((level: LogLevelValue, message: string) => void) | null, level?: LogLevelValue | number): void;

// -- client -------------------------------------------------------------------

/**
 * Options are checked: a key the call does not take throws a TypeError naming it and the closest
 * valid key (a misspelt `namepsace` never falls back to the default namespace).
 */
export interface CallOptions {
  /** Cancels the call: its Promise rejects with an AbortError (already aborted: at once). */
  signal?: AbortSignal;
}

export interface ClientOptions {
  /** A kubeconfig path or paths (merged like KUBECONFIG); default: kubectl's rules. */
  kubeconfig?: string | string[];
  /** The kubeconfig as text held in memory (instead of kubeconfig). */
  kubeconfigData?: string;
  /** The context; default: the kubeconfig's current-context. */
  context?: string;
  /** The default namespace; default: the context's, else "default". */
  namespace?: string;
  /** Per-request timeout; default 30000. Watches are not bound by it. */
  timeoutMs?: number;
  /** Retries of idempotent requests on 429, 5xx and resets; default 5. */
  maxRetries?: number;
  userAgent?: string;
}

export interface RequestOptions extends CallOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | string;
  path: string;
  /** Text, bytes, or a value sent as JSON. */
  body?: string | Buffer | Uint8Array | object;
  contentType?: string;
  timeoutMs?: number;
}

export interface Response {
  status: number;
  body: string;
  json<T = any>(): T;
}

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply';

export interface WatchOptions extends CallOptions {
  /** Start after this resourceVersion; default: list first (existing objects arrive as ADDED). */
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** End the watch (without error) after this long; default: until closed. */
  durationMs?: number;
}

export const WatchEventType: Readonly<{ ADDED: 'ADDED'; MODIFIED: 'MODIFIED'; DELETED: 'DELETED'; RELISTED: 'RELISTED' }>;
export type WatchEventTypeName = keyof typeof WatchEventType;

export interface WatchEvent<T = any> {
  type: WatchEventTypeName;
  /** The object's JSON text. */
  raw: string;
  /** The object, parsed from `raw` (for RELISTED: the full list). */
  readonly object: T;
}

/** A connection to one cluster, as a kubeconfig context describes it. */
export class Client {
  constructor(options?: ClientOptions);
  /** Release the client. Idempotent; pending calls reject with CancelledError. */
  close(): void;
  readonly closed: boolean;
  readonly namespace: string;
  readonly server: string;
  readonly context: string;

  serverVersion(options?: CallOptions): Promise<{ gitVersion: string; major: string; minor: string; [key: string]: unknown }>;
  request(options: RequestOptions): Promise<Response>;
  get<T = any>(path: string, options?: CallOptions & { timeoutMs?: number }): Promise<T>;
  create<T = any>(path: string, body: RequestOptions['body'], options?: CallOptions & { timeoutMs?: number }): Promise<T>;
  replace<T = any>(path: string, body: RequestOptions['body'], options?: CallOptions & { timeoutMs?: number }): Promise<T>;
  patch<T = any>(
    path: string,
    body: RequestOptions['body'],
    options?: CallOptions & { timeoutMs?: number; patchType?: PatchType },
  ): Promise<T>;
  delete<T = any>(path: string, options?: CallOptions & { timeoutMs?: number }): Promise<T>;
  /** Watch a collection; the returned Watch is running already. */
  watch<T = any>(path: string, options?: WatchOptions): Watch<T>;
  /** The workloads with their application, replicas, containers and dev mode (nh_tree_list). */
  tree(options?: TreeOptions): Promise<TreeEntry[]>;
  /** The tree kept current: every entry as ADDED, then SYNCED, then each change (nh_tree_watch). */
  watchTree(options?: TreeOptions): TreeWatch;
  /** The pod and container whose logs `target` (a pod name or KIND/NAME) means, as kubectl picks it. */
  logPod(target: string, options?: LogPodOptions): Promise<LogPod>;
  /** The log lines of `target`, followed if asked (nh_pod_logs). */
  logs(target: string, options?: LogsOptions): LogStream;
  /** Whether the cluster answers and who we are (nh_client_check); rejects when it does not answer. */
  check(options?: CallOptions): Promise<ClusterCheck>;
  /** The rights devStart with these options and its end need, as RBAC Role rules (nh_dev_required_rights). */
  devRequiredRights(kind: WorkloadKind, name: string, options?: DevConfigOptions): Promise<RbacRule[]>;
  devRequiredRights(target: string, options?: DevConfigOptions): Promise<RbacRule[]>;
  /** Which of devRequiredRights the caller lacks, as the API server says (nh_dev_access_check). */
  devAccessCheck(kind: WorkloadKind, name: string, options?: DevConfigOptions): Promise<AccessCheck>;
  devAccessCheck(target: string, options?: DevConfigOptions): Promise<AccessCheck>;
  /** The dev config kept in the cluster: the dev.nocalhost annotation, or the ConfigMap of `app` (nh_dev_config_read). */
  devConfigRead(kind: WorkloadKind, name: string, options?: DevConfigLocation): Promise<StoredDevConfig>;
  devConfigRead(target: string, options?: DevConfigLocation): Promise<StoredDevConfig>;
  /** Write a dev config back, validated, only over the resourceVersion read (nh_dev_config_write). */
  devConfigWrite(kind: WorkloadKind, name: string, options: DevConfigWriteOptions): Promise<StoredDevConfig>;
  devConfigWrite(target: string, options: DevConfigWriteOptions): Promise<StoredDevConfig>;
  /** What the user chose for this workload's dev mode last (nh_dev_profile_get), or null. Synchronous. */
  devProfile(kind: WorkloadKind, name: string, options?: DevProfileOptions): DevProfile | null;
  devProfile(target: string, options?: DevProfileOptions): DevProfile | null;
  /** Remember the dev image, container and work dir (those given) for this workload (nh_dev_profile_set). */
  rememberDevProfile(kind: WorkloadKind, name: string, options: RememberDevProfileOptions): DevProfile;
  rememberDevProfile(target: string, options: RememberDevProfileOptions): DevProfile;
  /** associate() with this client's namespace (unless given), context and kubeconfig path. Synchronous. */
  associate(dir: string, kind: WorkloadKind, name: string, options?: ClientAssociateOptions): Association;
  associate(dir: string, target: string, options?: ClientAssociateOptions): Association;

  /**
   * Put a workload into dev mode and wait until its dev pod is ready. The workload is the CLI's
   * 'KIND/NAME' ('deployment/web') or kind and name apart (as in every dev-mode call below).
   */
  devStart(kind: WorkloadKind, name: string, options: DevStartOptions): Promise<Session>;
  devStart(target: string, options: DevStartOptions): Promise<Session>;
  /**
   * Scoped dev mode: start it, run fn(session), and end dev mode when fn settles, also when it
   * throws; resolves with what fn returned (fn's error carries a failed end as `devEndError`).
   */
  withDevMode<T>(target: string, options: DevStartOptions, fn: (session: Session) => Promise<T> | T): Promise<T>;
  withDevMode<T>(kind: WorkloadKind, name: string, options: DevStartOptions, fn: (session: Session) => Promise<T> | T): Promise<T>;
  /**
   * The effective Nocalhost dev config of a workload's container, as devStart would use it (config
   * file, the workload's dev.nocalhost annotation, the application ConfigMap, explicit options on
   * top). Changes nothing. Rejects with ConfigError (file, line, field) or NotFoundError.
   */
  devConfigResolve(kind: WorkloadKind, name: string, options?: DevConfigOptions): Promise<DevConfig>;
  devConfigResolve(target: string, options?: DevConfigOptions): Promise<DevConfig>;
  /** End dev mode: restore the original in place. Idempotent; works from any process. */
  devEnd(kind: WorkloadKind, name: string, options?: DevEndOptions): Promise<DevEndResultValue>;
  devEnd(target: string, options?: DevEndOptions): Promise<DevEndResultValue>;
  devStatus(kind: WorkloadKind, name: string, options?: DevQueryOptions): Promise<DevStatus>;
  devStatus(target: string, options?: DevQueryOptions): Promise<DevStatus>;
  devList(options?: CallOptions & { namespace?: string; allNamespaces?: boolean }): Promise<DevStatus[]>;
  /** Dev spaces (docs/spaces.md): create space `name` for `developer`; their access. */
  createSpace(name: string, developer: string, options?: CreateSpaceOptions): Promise<SpaceAccess>;
  shareSpace(name: string, developer: string, options?: CallOptions & { tokenSeconds?: number }): Promise<SpaceAccess>;
  renewSpace(name: string, developer: string,
    options?: CallOptions & { revoke?: boolean; tokenSeconds?: number }): Promise<SpaceAccess>;
  spaces(options?: CallOptions & { developer?: string }): Promise<Space[]>;
  deleteSpace(name: string, options?: CallOptions & { developer?: string }): Promise<void>;
  /** Applications (docs/apps.md): install `source` (manifests, Kustomize, a Helm chart) as `name`. */
  installApp(name: string, source: string, options?: AppOptions): Promise<App>;
  upgradeApp(name: string, source: string, options?: AppOptions): Promise<App>;
  apps(options?: CallOptions & { namespace?: string; allNamespaces?: boolean }): Promise<App[]>;
  uninstallApp(name: string, options?: CallOptions & { namespace?: string }): Promise<void>;
  /**
   * nh dev env: the container's environment as the kubelet resolves it, for a local process; a
   * DevEnv object (format 'json', the default) or the text of a dotenv file (format 'dotenv').
   */
  devEnv(kind: WorkloadKind, name: string, options?: DevEnvOptions & { format?: 'json' }): Promise<DevEnv>;
  devEnv(kind: WorkloadKind, name: string, options: DevEnvOptions & { format: 'dotenv' }): Promise<string>;
  devEnv(target: string, options?: DevEnvOptions & { format?: 'json' }): Promise<DevEnv>;
  devEnv(target: string, options: DevEnvOptions & { format: 'dotenv' }): Promise<string>;
  /** The Session of a workload already in dev mode (NotFoundError otherwise). */
  devAttach(kind: WorkloadKind, name: string, options?: DevAttachOptions): Promise<Session>;
  devAttach(target: string, options?: DevAttachOptions): Promise<Session>;
  /**
   * nh dev run: the Nocalhost dev config's command.<command> in a workload in dev mode, in its work
   * dir (devRun('build', 'deployment/web')). See Session.run.
   */
  devRun(command: DevCommand, target: string, options?: DevRunOptions & DevQueryOptions): Promise<ExecResult>;
  devRun(command: DevCommand, kind: WorkloadKind, name: string, options?: DevRunOptions & DevQueryOptions): Promise<ExecResult>;
  /**
   * nh terminal: an interactive shell in the target's container: `shell`, else the dev config's
   * shell, else zsh, bash or sh (whichever exists).
   */
  terminal(target: string, options?: ExecStartOptions & { shell?: string }): Promise<Exec>;
  /** The PersistentVolumeClaims dev mode made for persistentDirs in the namespace (they outlive dev mode). */
  devPvcList(options?: CallOptions & { namespace?: string }): Promise<DevPvc[]>;
  /** The PersistentVolumeClaims dev mode made for one workload's persistentDirs. */
  devPvcList(kind: WorkloadKind, name: string, options?: CallOptions & { namespace?: string }): Promise<DevPvc[]>;
  devPvcList(target: string, options?: CallOptions & { namespace?: string }): Promise<DevPvc[]>;
  /**
   * Delete a workload's dev-mode PersistentVolumeClaim `claim` (its name or its dir), or all of them
   * without one; resolves with the names deleted. NotFoundError when there is no such claim.
   */
  devPvcDelete(kind: WorkloadKind, name: string, claim?: string | null, options?: CallOptions & { namespace?: string }): Promise<string[]>;
  devPvcDelete(kind: WorkloadKind, name: string, options?: CallOptions & { namespace?: string }): Promise<string[]>;
  /** 'KIND/NAME' form: the second argument is the claim. */
  devPvcDelete(target: string, claim?: string | null, options?: CallOptions & { namespace?: string }): Promise<string[]>;

  /** The pod that streams to `target` ('deployment/web', 'pod/p', 'p') would use. */
  resolveTarget(target: string, options?: CallOptions & { namespace?: string }): Promise<string>;
  /** Run argv (no shell) in the target's container and wait for it to end; a non-zero exit code is no error. */
  exec(target: string, argv: string[], options?: ExecOptions): Promise<ExecResult>;
  /** Start argv (no shell) as an interactive command; resolves with the Exec once connected. */
  execStart(target: string, argv: string[], options?: ExecStartOptions): Promise<Exec>;
  /**
   * Forward local ports to the target's pod: 'LOCAL:REMOTE', ':REMOTE' or '0:REMOTE' (a free local
   * port), or a number (the same on both sides). Resolves once every port is bound.
   */
  portForward(target: string, ports: string | number | Array<string | number>, options?: PortForwardOptions): Promise<PortForward>;
  /**
   * Listen in the dev pod of kind/name (in dev mode) and carry each connection back to a local port
   * ('REMOTE:LOCAL' or a number); resolves once every listener is bound in the pod.
   */
  reverseForward(kind: string, name: string, ports: string | number | Array<string | number>,
                 options?: ReverseForwardOptions): Promise<ReverseForward>;
  /**
   * Forward local ports from your agent, so that the forward outlives this process; resolves with its
   * id (agent.status()). A local port below 1024 rejects with InvalidArgumentError.
   */
  agentForward(target: string, ports: string[], options?: AgentOptions & { namespace?: string }): Promise<string>;
  /** Take the sync `id` back from your agent: the Session syncs here from the index the agent saved. */
  agentReattach(id: string, options?: AgentOptions): Promise<Session>;
}

// -- interactive exec, port-forward, sync -------------------------------------

export interface ExecStartOptions extends CallOptions {
  namespace?: string;
  /** Default: the pod's default container, else its first. */
  container?: string;
  /** Allocate a terminal (stderr then arrives as stdout). */
  tty?: boolean;
  /** Open stdin (default true). */
  stdin?: boolean;
  /** Limit for connecting, in ms. */
  timeoutMs?: number;
}

/**
 * A running interactive command. Events 'stdout' and 'stderr' (Buffers, in order; a listener that
 * throws stops the command and `done` rejects with what it threw), 'exit' (code).
 */
export class Exec extends EventEmitter {
  /** The pod the command runs in. */
  readonly pod: string;
  /** The stream protocol the server chose, e.g. 'v5.channel.k8s.io'. */
  readonly protocol: string;
  /** Resolves with the exit code; rejects with the error that ended the session (CancelledError after close()). */
  readonly done: Promise<number>;
  /** Send data to stdin; InvalidStateError once the command ended. Blocks only while several MiB wait to be sent. */
  write(data: string | Buffer | Uint8Array): void;
  /** End stdin (UnsupportedError when the server speaks only v4.channel.k8s.io). */
  closeStdin(): void;
  /** Tell the command's terminal its size (tty sessions). */
  resize(width: number, height: number): void;
  wait(): Promise<number>;
  /** Stop the command if it still runs. Idempotent. */
  close(): void;
  on(event: 'stdout' | 'stderr', listener: (data: Buffer) => void): this;
  on(event: 'exit', listener: (code: number) => void): this;
}

export interface PortForwardOptions extends CallOptions {
  namespace?: string;
  /** The IPv4 address to listen on; default 127.0.0.1. */
  address?: string;
  /** When the pod goes away, forward new connections to the target's new pod (default true). */
  follow?: boolean;
  /** Limit for opening each stream, in ms. */
  timeoutMs?: number;
}

export const ForwardEventType: Readonly<{
  CONNECTED: 'CONNECTED'; CLOSED: 'CLOSED'; ERROR: 'ERROR'; POD_LOST: 'POD_LOST'; RECONNECTED: 'RECONNECTED';
}>;
export type ForwardEventTypeName = keyof typeof ForwardEventType;

export interface ForwardEvent {
  type: ForwardEventTypeName;
  /** '' when unknown. */
  pod: string;
  /** 0 for events about the pod. */
  localPort: number;
  remotePort: number;
  message: string;
}

/** Local ports forwarded to a pod. Event 'connection' (ForwardEvent), from the forwarder's threads. */
export class PortForward extends EventEmitter {
  /** The local port of each requested port. */
  readonly localPorts: number[];
  /** The local port of the first requested port. */
  readonly localPort: number;
  /** The pod connections went to when forwarding started. */
  readonly pod: string;
  /** Settles when forwarding ends: rejects with the error that ended it (CancelledError after close()). */
  readonly done: Promise<void>;
  /** Stop forwarding and close every connection; resolves once stopped. Idempotent. */
  close(): Promise<void>;
  on(event: 'connection', listener: (event: ForwardEvent) => void): this;
}

export interface ReverseForwardOptions extends CallOptions {
  namespace?: string;
  /** Which session: DevMode.REPLACE (default) or DevMode.DUPLICATE. */
  mode?: number;
  /** Duplicate mode: whose copy (default: yours). */
  developer?: string;
  /** The IPv4 address the listeners bind in the pod; default 127.0.0.1. */
  address?: string;
  /** Limit for the first tunnel (nhsyncd's upload included), in ms; default 120000. */
  timeoutMs?: number;
  /** Without a sidecar image: where the nhsyncd binaries are. */
  syncdDir?: string;
}

export interface ReverseEvent {
  type: ForwardEventTypeName;
  /** '' when unknown. */
  pod: string;
  /** 0 for events about the tunnel. */
  remotePort: number;
  localPort: number;
  message: string;
}

/** Listeners in a dev pod carried back to local ports. Event 'connection' (ReverseEvent), from the tunnel's thread. */
export class ReverseForward extends EventEmitter {
  /** The dev pod the tunnel goes to. */
  readonly pod: string;
  /** Settles when it ends: rejects with the error that ended it (CancelledError after close()). */
  readonly done: Promise<void>;
  /** Close the tunnel, the pod's listeners and every connection; resolves once stopped. Idempotent. */
  close(): Promise<void>;
  on(event: 'connection', listener: (event: ReverseEvent) => void): this;
}

export const SyncMode: Readonly<{ SEND: 0; TWO_WAY: 1 }>;
export const SyncCompression: Readonly<{ AUTO: 0; ON: 1; OFF: 2 }>;

export interface SyncOptions {
  /** SyncMode.SEND (default: local is the master) or SyncMode.TWO_WAY. */
  mode?: 0 | 1;
  /** gitignore-syntax patterns of paths not to sync. */
  ignore?: string[];
  /** If any, only matching paths are synced. */
  include?: string[];
  /** Honour .gitignore files and .git/info/exclude. */
  useGitignore?: boolean;
  /** Where the index of acknowledged files is kept; default ~/.cache/nocalhost/sync. */
  stateDir?: string;
  compression?: 0 | 1 | 2;
  connectTimeoutMs?: number;
  maxBackoffMs?: number;
  /**
   * Two-way only: a deletion made on the server never deletes the local file; the local copy is
   * sent back, reported as a 'remoteChange' event whose message says "delete protection". In a
   * dev session's sync, left unset, the Nocalhost dev config's sync.deleteProtection (default
   * true) decides.
   */
  deleteProtection?: boolean;
  /**
   * A one-shot sync: the tree as it is when the sync starts, nothing watched; flush once, then
   * stop. Not for a dev session's sync (an error there).
   */
  once?: boolean;
}

export type SyncStateName =
  | 'starting' | 'scanning' | 'connecting' | 'syncing' | 'idle' | 'disconnected' | 'paused' | 'error' | 'stopped';

export interface SyncStatus {
  state: SyncStateName;
  /** The current round (restart at 0 when idle). Files the server acknowledged. */
  filesDone: number;
  filesTotal: number;
  /** Bytes sent: moves while a large file is on its way. */
  bytesDone: number;
  bytesTotal: number;
  /** Since the start. */
  filesSynced: number;
  fileErrors: number;
  conflicts: number;
  reconnects: number;
  /** The last connection or fatal error (an ErrorCode value), or 0. */
  errorCode: number;
}

export interface SyncEvent {
  /** Relative to the local directory, or ''. */
  path: string;
  message: string;
  /** fileError: an ErrorCode value; else 0. */
  code: number;
  status: SyncStatus | null;
}

/** A running sync. Events 'state', 'progress', 'fileError', 'conflict', 'remoteChange' (SyncEvent). */
export class Sync extends EventEmitter {
  /** Resolves once the sync runs. */
  readonly ready: Promise<Sync>;
  /** Settles after close(). */
  readonly done: Promise<void>;
  readonly closed: boolean;
  status(): SyncStatus;
  /** The last connection or fatal error's message ('' if none). */
  lastError(): string;
  /**
   * Resolves once every change made before the call (and the first full sync) is durable on the
   * server; rejects with TimeoutError, CancelledError, InvalidStateError (stopped) or the fatal error
   * (UnauthorizedError for a wrong token).
   */
  flush(options?: CallOptions & { timeoutMs?: number }): Promise<void>;
  pause(): void;
  resume(): void;
  /** Stop the sync (its index is saved); resolves once stopped. Idempotent. */
  close(): Promise<void>;
  on(event: 'state' | 'progress' | 'fileError' | 'conflict' | 'remoteChange', listener: (event: SyncEvent) => void): this;
}

/** Start syncing `localDir` to the nhsyncd at `address` ('host:port') with `token`; resolves once running. */
export function startSync(localDir: string, address: string, token: string, options?: SyncOptions): Promise<Sync>;

// -- dev mode -----------------------------------------------------------------

/**
 * 'deployment' ('deploy', 'Deployment'), 'statefulset' ('sts'), 'replicaset' ('rs'), 'daemonset'
 * ('ds'), 'job', 'cronjob' ('cj'), 'pod' ('po'), or a custom kind as '<resource>.<group>'
 * (e.g. 'rollouts.argoproj.io').
 */
export type WorkloadKind = string;

/** REPLACE changes the workload itself; DUPLICATE develops on a private copy per developer. */
export const DevMode: Readonly<{ REPLACE: 'replace'; DUPLICATE: 'duplicate' }>;
export type DevModeName = 'replace' | 'duplicate';
/** The C values 0 and 1, still taken wherever a mode is. */
export type DevModeValue = 0 | 1;

/** Enums are their names, as events and results carry them. */
export const DevEventType: Readonly<{ PHASE: 'PHASE'; POD: 'POD'; WARNING: 'WARNING'; INFO: 'INFO' }>;
export const DevEndResult: Readonly<{
  NOT_IN_DEV_MODE: 'NOT_IN_DEV_MODE'; RESTORED: 'RESTORED'; RESTORED_OVERWRITING: 'RESTORED_OVERWRITING'; WORKLOAD_GONE: 'WORKLOAD_GONE';
}>;
export type DevEndResultValue = (typeof DevEndResult)[keyof typeof DevEndResult];
export const devDefaults: Readonly<{ sidecarImage: string; workdir: string; syncPort: number }>;

export interface DevEvent {
  type: keyof typeof DevEventType;
  /** 'lock', 'read', 'record', 'hpa', 'patch', 'wait', 'ready', 'rollback', 'restore', 'cleanup' or 'done'. */
  phase: string;
  message: string;
  /** Facts as JSON (for POD: name, phase, ready, containers), or null. */
  detail: any;
}

/** A patch applied after the switch to dev mode. */
export interface DevPatch {
  /** Default 'strategic'. */
  type?: 'strategic' | 'merge' | 'json';
  /** The patch: an object (an array of operations for 'json'), or its JSON text. */
  patch: object | string;
}

/** A dir of the dev container kept on a PersistentVolumeClaim. */
export interface DevPersistentDir {
  /** Absolute. */
  path: string;
  /** Default '10Gi'. */
  capacity?: string;
  storageClass?: string;
}

/** What devStart and devConfigResolve share: the dev container and where its Nocalhost config comes from. */
export interface DevConfigOptions extends CallOptions {
  /** The dev image; required by devStart unless the Nocalhost dev config names one. */
  image?: string;
  namespace?: string;
  /** Default: the only container. */
  container?: string;
  workdir?: string;
  env?: Record<string, string> | string[];
  /** A ResourceRequirements object, e.g. {limits: {memory: '2Gi'}}. */
  resources?: object;
  sidecarImage?: string;
  syncPort?: number;
  /** 'replace' (default) or 'duplicate': develop on a private copy, leaving the workload untouched. */
  mode?: DevModeName | DevModeValue;
  /** Duplicate mode: whose copy (part of its name); default 'user@host'. */
  developer?: string;
  /** Custom kinds: the API version ('argoproj.io/v1alpha1'); default: the group's preferred one. */
  apiVersion?: string;
  /** Custom kinds: JSON pointer to the pod template; default '/spec/template'. */
  podTemplatePath?: string;
  /** Custom kinds: JSON pointer to the replica count; default '/spec/replicas'. */
  replicasPath?: string;
  /** A Nocalhost dev config (v2): a .nocalhost/config.yaml file, or a directory holding one. */
  configPath?: string;
  /** The Nocalhost application whose ConfigMap dev.nocalhost.config.<app> is read. */
  appName?: string;
  /** Ignore the workload's dev.nocalhost annotation and the application ConfigMap. */
  ignoreClusterConfig?: boolean;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Applied after the switch; an array or its JSON text. */
  patches?: DevPatch[] | string;
  /** Kept on PersistentVolumeClaims that outlive dev mode; an array or its JSON text. */
  persistentDirs?: DevPersistentDir[] | string;
}

/** The effective Nocalhost dev config (see docs/nocalhost-config.md). */
export interface DevConfig {
  /** Where it came from (config file, annotation, ConfigMap). */
  sources: any[];
  container: string;
  image: string;
  imagePullPolicy: string;
  shell: string;
  workDir: string;
  resources: any;
  env: any[];
  persistentVolumeDirs: any[];
  portForward: string[];
  sync: { type: string; mode: string; filePattern: string[]; ignoreFilePattern: string[]; deleteProtection: boolean; [key: string]: any };
  sidecarImage: string;
  patches: any[];
  command: { build: string[]; run: string[]; debug: string[]; hotReloadRun: string[]; hotReloadDebug: string[]; [key: string]: any };
  debug: { remoteDebugPort: number; language: string; [key: string]: any };
  /** Fields accepted but not used: {field, file, line, reason}. */
  ignored: Array<{ field: string; file: string; line: number; reason: string }>;
  [key: string]: any;
}

/** A PersistentVolumeClaim dev mode made for a persistent dir. */
export interface DevPvc {
  name: string;
  namespace: string;
  /** 'Deployment/web'. */
  workload: string;
  path: string;
  capacity: string;
  storage_class: string;
  phase: string;
}

/** Which session: devStatus and devAttach. */
export interface DevQueryOptions extends CallOptions {
  namespace?: string;
  /** 'duplicate': the copy of `developer`. */
  mode?: DevModeName | DevModeValue;
  developer?: string;
}

/** devEnv: which container, the output's format, and whether Secrets' values are included. */
export interface DevEnvOptions extends CallOptions {
  namespace?: string;
  /** The container; default: the only one. */
  container?: string;
  format?: 'json' | 'dotenv';
  /** Include the values that come from Secrets (otherwise named and left out). */
  secrets?: boolean;
}

/** One variable of devEnv(): `value`, or `withheld`/`unresolved` (the reason) when left out. */
export interface DevEnvVar {
  name: string;
  source: string;
  secret: boolean;
  value?: string;
  withheld?: string;
  unresolved?: string;
}

export interface DevEnv {
  kind: string;
  name: string;
  namespace: string;
  container: string;
  /** The pod the Downward API's fields were read from, or null. */
  pod: string | null;
  env: DevEnvVar[];
  notes: string[];
}

/** devAttach: which session, and whether it is scoped. */
export interface DevAttachOptions extends DevQueryOptions {
  /** As DevStartOptions.endOnExit. */
  endOnExit?: boolean;
}

/** nh dev run's commands. */
export type DevCommand = 'build' | 'run' | 'debug' | 'hot-reload-run' | 'hot-reload-debug';

export interface DevRunOptions extends CallOptions {
  /** Appended to the command. */
  args?: string[];
  /** Where to take the command from when the session recorded no dev config. */
  configPath?: string;
  appName?: string;
  /** debug: the local port for the debugger (default: debug.remoteDebugPort). */
  localPort?: number;
  stdin?: string | Buffer;
  timeoutMs?: number;
}

export interface DevStartOptions extends DevConfigOptions {
  /**
   * Scoped dev mode: disposing the session (`await using`, or `await session[Symbol.asyncDispose]()`)
   * ends dev mode. Default false: disposing only releases the handle and dev mode stays on.
   */
  endOnExit?: boolean;
  /** How long to wait for the dev pod; default 300000. */
  timeoutMs?: number;
  /** Default true: a failed or cancelled start restores the workload exactly. */
  rollbackOnFailure?: boolean;
  /**
   * Default false (as Nocalhost): a patch the API server refuses is skipped with a warning event
   * (phase "patch") and the start goes on. true: it fails the start, which rolls back.
   */
  patchErrorsFatal?: boolean;
  /**
   * Duplicate mode: requests to the workload's Services carrying every one of these headers
   * ('NAME=VALUE', exact match) go to the copy, all others to the original (docs/traffic.md).
   */
  headers?: string[];
  /** What routes headers: 'auto' (default: Istio where its API is served, else the Gateway API), 'istio' or 'gateway-api'. */
  router?: 'auto' | 'istio' | 'gateway-api';
  owner?: string;
  leaseDurationS?: number;
  /** Progress; throwing stops the start (which rolls back) and rejects with what was thrown. */
  onEvent?: (event: DevEvent) => void;
  /**
   * Also forward to the sync sidecar and sync this local directory into the work dir; the start
   * resolves once the first full sync is acknowledged (onEvent also reports "forward", "sync",
   * "synced"). The session owns that sync: session.sync().
   */
  localDir?: string;
  /** Options of that sync. */
  sync?: SyncOptions;
  /**
   * Local mode (docs/traffic.md): the dev pod runs only the sync sidecar, and connections to each
   * of localPorts in the pod come to 127.0.0.1 here for as long as the session is not disposed;
   * image is then optional. With mode "duplicate": a local copy.
   */
  local?: boolean;
  /** Local mode: "PORT" or "PORT:LOCAL", ports the workload's containers declare (at least one). */
  localPorts?: string[];
  /**
   * Any mode: "svc/NAME:PORT[:LOCAL]", cluster Services reachable on 127.0.0.1 here for as long as
   * the session is not disposed, named in a hosts file and an env file (session.status():
   * hosts_file, env_file).
   */
  forwards?: string[];
}

export interface DevEndOptions extends CallOptions {
  namespace?: string;
  /** 'duplicate': end the copy of `developer` only. */
  mode?: DevModeName | DevModeValue;
  developer?: string;
  owner?: string;
  timeoutMs?: number;
  leaseDurationS?: number;
  /**
   * End dev mode of a workload marked as in dev mode whose session record is gone (without it:
   * InvalidStateError): remove every mark of dev mode found; what could not be restored (e.g. the
   * original image when no revision records it) is reported as warning events of phase "force".
   */
  force?: boolean;
  onEvent?: (event: DevEvent) => void;
}

/** A port-forward of the Nocalhost dev config (portForward), as session.status() reports it. */
export interface DevPortForward {
  /** As written in the config: 'LOCAL:REMOTE' or 'PORT'. */
  spec: string;
  local_port: number;
  remote_port: number;
}

export interface DevStatus {
  kind: string;
  name: string;
  namespace: string;
  dev_mode: boolean;
  /** session.status() while the session runs the whole loop: the dev config's port-forwards. */
  port_forwards?: DevPortForward[];
  [key: string]: any;
}

/**
 * A workload in dev mode. Scoped (endOnExit): disposing it ends dev mode; otherwise close() and
 * disposing release the handle and dev mode stays on.
 */
export class Session implements AsyncDisposable {
  private constructor();
  readonly client: Client;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  /** The dev pod's name; '' when none exists right now. */
  readonly pod: string;
  readonly container: string;
  readonly sidecarContainer: string;
  readonly workdir: string;
  readonly owner: string;
  readonly since: string;
  readonly syncPort: number;
  /** The sidecar's sync token: a secret. */
  readonly token: string;
  readonly mode: DevModeName;
  /**
   * The Deployment the dev pod runs from when it is not the workload itself: the copy in duplicate
   * mode, the generated Deployment of DaemonSets, Jobs, CronJobs, Pods and custom kinds; else ''.
   */
  readonly workload: string;
  /**
   * Where streams to the dev pod go (exec, portForward, resolveTarget): the workload that runs it,
   * 'deployment/<workload>' or '<kind>/<name>', so that they follow a replaced dev pod.
   */
  readonly target: string;
  /** Duplicate mode: the developer whose copy this is; otherwise ''. */
  readonly developer: string;
  readonly closed: boolean;
  /** The session's state as devStatus() reports it, without a request (port_forwards while the whole loop runs). */
  status(): DevStatus;
  refresh(options?: CallOptions): Promise<void>;
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  /** Whether disposing the session ends dev mode. */
  readonly endOnExit: boolean;
  /** End dev mode for this workload and close the handle (works after close() too). */
  end(options?: DevEndOptions): Promise<DevEndResultValue>;
  /** A scoped session ends dev mode (unless end() ran); otherwise close(). */
  [Symbol.asyncDispose](): Promise<void>;
  /**
   * nh dev run: the dev config's command.<command> in the dev container, in its work dir; resolves
   * once it ended (a non-zero exit code is no error). ConfigError when the config lacks it.
   */
  run(command: DevCommand, options?: DevRunOptions): Promise<ExecResult>;
  /** nh terminal: a shell in the dev container (options.shell, else the dev config's, else zsh/bash/sh). */
  terminal(options?: ExecStartOptions & { shell?: string }): Promise<Exec>;
  close(): void;
  /**
   * The session's running sync (from devStart({localDir}) or startSync()), or null. Events are
   * reported only for a sync made by startSync().
   */
  sync(): Sync | null;
  /**
   * Forward to the sync sidecar, sync `localDir` into the work dir, and resolve once the first full
   * sync is acknowledged. onEvent gets the dev-mode phases "forward", "sync" and "synced".
   */
  startSync(localDir: string, options?: SyncOptions & CallOptions & { timeoutMs?: number; onEvent?: (event: DevEvent) => void }): Promise<Sync>;
  /** Stop the session's sync (its index is saved) and its port-forward; dev mode stays on. */
  stopSync(): Promise<void>;
  /**
   * Hand the session's sync to your agent, which keeps syncing after this process exits; resolves with
   * the item's id once the agent's first sync is acknowledged. Dev mode is untouched.
   */
  detach(options?: AgentOptions): Promise<string>;
}

// -- the agent: syncs and forwards that outlive their caller (docs/agent.md) ---

export interface AgentOptions {
  /** The agent's directory; default $NH_AGENT_DIR, else $XDG_RUNTIME_DIR/nocalhost, else /tmp/nocalhost-<uid>. */
  dir?: string;
  /** The agent's executable; default $NH_AGENT_PATH, else libexec/nocalhost/nh-agent beside the library. */
  agentPath?: string;
  /** How long to wait for the agent's answer; default 60000 (detach: 300000). */
  timeoutMs?: number;
}

/** One item the agent holds (nh_agent_status()). */
export interface AgentItem {
  id: string;
  type: 'sync' | 'forward';
  /** 'ended': a sync whose dev mode was ended elsewhere (its loops stopped; the message says why). */
  state: 'connecting' | 'syncing' | 'idle' | 'disconnected' | 'error' | 'ended' | 'forwarding' | 'waiting';
  message: string;
  since: string;
  namespace: string;
  context: string;
  // syncs
  kind?: string;
  name?: string;
  mode?: 'replace' | 'duplicate';
  developer?: string;
  local_dir?: string;
  files_done?: number;
  files_total?: number;
  bytes_done?: number;
  bytes_total?: number;
  out_of_sync?: number;
  files_synced?: number;
  file_errors?: number;
  conflicts?: number;
  reconnects?: number;
  last_sync?: string | null;
  error_code?: number;
  // forwards
  target?: string;
  ports?: Array<{ spec: string; local_port: number; remote_port: number }>;
  pod?: string;
  last_error?: string;
  last_error_at?: string | null;
}

export const agent: {
  /** Every item's status ([] when no agent runs and none is to be resumed). */
  list(options?: AgentOptions): Promise<AgentItem[]>;
  /** One item's status; rejects with NotFoundError. */
  status(id: string, options?: AgentOptions): Promise<AgentItem>;
  /** Stop an item: a sync stops (dev mode stays on), a forward closes its ports. */
  stop(id: string, options?: AgentOptions): Promise<void>;
  /** Whether the agent runs; never starts it. */
  info(options?: AgentOptions): Promise<{ running: boolean; dir: string; pid?: number; socket?: string; version?: string; items?: number }>;
};

// -- streams ------------------------------------------------------------------

export interface ExecOptions extends CallOptions {
  stdin?: string | Buffer;
  namespace?: string;
  container?: string;
  tty?: boolean;
  timeoutMs?: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** A running watch: an EventEmitter and an async iterable of events. */
export class Watch<T = any> extends EventEmitter implements AsyncIterable<WatchEvent<T>> {
  /** The client, kept alive while the watch runs. */
  readonly client: Client;
  /** Settles when the watch ends: resolves after durationMs or close(), rejects with the error that ended it. */
  readonly done: Promise<void>;
  readonly closed: boolean;
  /** Stop the watch; resolves once it has ended. Idempotent. */
  close(): Promise<void>;

  on(event: 'event', listener: (event: WatchEvent<T>) => void): this;
  on(event: 'error', listener: (error: NocalhostError) => void): this;
  on(event: 'end', listener: () => void): this;
  once(event: 'event', listener: (event: WatchEvent<T>) => void): this;
  once(event: 'error', listener: (error: NocalhostError) => void): this;
  once(event: 'end', listener: () => void): this;
  [Symbol.asyncIterator](): AsyncIterator<WatchEvent<T>>;
}

// -- dev spaces and applications ---------------------------------------------

export interface CreateSpaceOptions extends CallOptions {
  existingNamespace?: boolean;
  /** Kubernetes quantities: '2', '500m'; '4Gi'. */
  cpu?: string;
  memory?: string;
  storage?: string;
  pods?: number;
  /** PolicyRules the space's Role grants besides dev mode's. */
  extraRules?: object[];
  tokenSeconds?: number;
}

/** A developer's access; kubeconfig holds a token: keep it secret. */
export interface SpaceAccess {
  developer: string;
  service_account: string;
  namespace: string;
  kubeconfig: string;
  expires: string;
}

export interface Space {
  name: string;
  owner: string;
  since: string;
  namespace: 'created' | 'adopted';
  phase: string;
  developers: { developer: string; service_account: string }[];
  quota: Record<string, string> | null;
}

export interface AppOptions extends CallOptions {
  namespace?: string;
  /** Helm charts: values files and "key=value" settings. */
  valuesFiles?: string[];
  set?: string[];
  /** The dev config (default: SOURCE/.nocalhost/config.yaml when there is one). */
  configPath?: string;
}

export interface App {
  name: string;
  namespace: string;
  type: 'rawManifestLocal' | 'kustomizeLocal' | 'helmLocal';
  state: 'INSTALLED' | 'INSTALLING';
  objects: { apiVersion: string; kind: string; name: string }[];
  workloads: { kind: string; name: string }[];
}

// -- the workload tree and logs ------------------------------------------------

export interface TreeOptions extends CallOptions {
  /** 'deploy,sts' or ['deployment', 'pod']; default every kind. */
  kinds?: string | string[];
  namespace?: string;
  allNamespaces?: boolean;
  /** A label selector the workloads must match, as kubectl's -l. */
  labelSelector?: string;
}

/** One dev-mode session of a workload (or Nocalhost's nhctl dev mode: tool 'nhctl', owner and pod null). */
export interface TreeDevSession {
  tool: 'libnocalhost' | 'nhctl';
  mode: 'replace' | 'duplicate';
  phase: 'starting' | 'active';
  owner: string | null;
  developer: string | null;
  since: string | null;
  container: string;
  image: string;
  copy: string | null;
  generated_deployment: string | null;
  session_object: string | null;
  pod: { name: string; phase: string; ready: boolean } | null;
  sync: { port: number; container: string; workdir: string } | null;
}

/** A workload of the tree (see nh_tree_list in nocalhost.h). */
export interface TreeEntry {
  kind: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'ReplicaSet' | 'Job' | 'CronJob' | 'Pod';
  name: string;
  namespace: string;
  /** dev.nocalhost/application-name, else the Helm release, else 'default.application'. */
  application: string;
  created: string | null;
  /** Desired pods (Pod: containers; Job: completions; CronJob: null). */
  replicas: number | null;
  ready: number;
  containers: { name: string; image: string }[];
  dev_mode: boolean;
  dev: TreeDevSession[];
  /** Job and CronJob. */
  active?: number;
  suspended?: boolean;
  /** Job. */
  succeeded?: number;
  failed?: number;
  /** CronJob. */
  schedule?: string;
  last_schedule?: string | null;
  /** Pod. */
  phase?: string;
  node?: string;
}

export type TreeEventTypeName = 'ADDED' | 'MODIFIED' | 'DELETED' | 'SYNCED';
export const TreeEventType: { readonly [K in TreeEventTypeName]: K };

export type TreeEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; entry: TreeEntry }
  | { type: 'SYNCED'; entry: TreeEntry[] };

/** The tree kept current: an EventEmitter and an async iterable of events. */
export class TreeWatch extends EventEmitter implements AsyncIterable<TreeEvent> {
  readonly client: Client;
  /** Settles when the watch ends: resolves after close(), rejects with the error that ended it. */
  readonly done: Promise<void>;
  readonly closed: boolean;
  /** Stop the watch; resolves once it has ended. Idempotent. */
  close(): Promise<void>;

  on(event: 'event', listener: (event: TreeEvent) => void): this;
  on(event: 'error', listener: (error: NocalhostError) => void): this;
  on(event: 'end', listener: () => void): this;
  once(event: 'event', listener: (event: TreeEvent) => void): this;
  once(event: 'error', listener: (error: NocalhostError) => void): this;
  once(event: 'end', listener: () => void): this;
  [Symbol.asyncIterator](): AsyncIterator<TreeEvent>;
}

export interface LogPodOptions extends CallOptions {
  namespace?: string;
  /** Default: the pod's kubectl.kubernetes.io/default-container, else its first. */
  container?: string;
}

export interface LogPod {
  pod: string;
  namespace: string;
  container: string;
  containers: string[];
  /** How many pods the workload's selector matched. */
  pods: number;
}

export interface LogsOptions extends LogPodOptions {
  /** Keep streaming until the container ends (or close()). */
  follow?: boolean;
  /** Only the last this many lines. */
  tail?: number;
  /** Only lines newer than this many seconds. */
  since?: number;
  /** The previous (terminated) instance of the container. */
  previous?: boolean;
  /** Each line starts with its RFC 3339 timestamp. */
  timestamps?: boolean;
}

/** A pod's log lines: an EventEmitter ('line') and an async iterable of lines. */
export class LogStream extends EventEmitter implements AsyncIterable<string> {
  readonly client: Client;
  /** Settles when the lines end: resolves once all were read (or after close()), rejects with the error. */
  readonly done: Promise<void>;
  readonly closed: boolean;
  /** Stop reading; resolves once it has ended. Idempotent. */
  close(): Promise<void>;

  on(event: 'line', listener: (line: string) => void): this;
  on(event: 'error', listener: (error: NocalhostError) => void): this;
  on(event: 'end', listener: () => void): this;
  once(event: 'line', listener: (line: string) => void): this;
  once(event: 'error', listener: (error: NocalhostError) => void): this;
  once(event: 'end', listener: () => void): this;
  [Symbol.asyncIterator](): AsyncIterator<string>;
}

/** What nh_client_check says. */
export interface ClusterCheck {
  server: string;
  version: { gitVersion: string; [key: string]: unknown } | null;
  authenticated: boolean;
  user: { username: string; uid: string; groups: string[]; extra: Record<string, string[]> } | null;
  error: { code: number; name: string; message: string } | null;
}

/* ==== folder associations and the rights of dev mode ==== */

/** A rule of an RBAC Role. */
export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** What Client.devAccessCheck found. */
export interface AccessCheck {
  /** false when the server would not say (SelfSubjectAccessReview forbidden or not served). */
  checked: boolean;
  reason: string | null;
  missing: { verb: string; group: string; resource: string; subresource: string; why: string; needed: boolean }[];
  rules: RbacRule[];
}

/** A local directory associated with a workload (nocalhost/associations.json under the user's config dir). */
export interface Association {
  /** Absolute, symlinks resolved. */
  dir: string;
  namespace: string;
  /** As dev mode spells it: 'deployment', 'statefulset', ..., or '<resource>.<group>'. */
  kind: string;
  name: string;
  container: string;
  kubeconfig: string;
  context: string;
  /** RFC 3339. */
  updated: string;
}

export interface AssociationStoreOptions {
  /** The store's file; default: the user's. */
  store?: string;
}

export interface AssociateOptions extends AssociationStoreOptions {
  namespace?: string;
  container?: string;
  kubeconfig?: string;
  context?: string;
}

export interface ClientAssociateOptions extends AssociationStoreOptions {
  namespace?: string;
  container?: string;
}

export interface FindAssociationsOptions extends AssociationStoreOptions {
  namespace?: string;
  kubeconfig?: string;
  context?: string;
}

/** Associate an existing directory with a workload; replaces its earlier association. Synchronous. */
export function associate(dir: string, kind: WorkloadKind, name: string, options?: AssociateOptions): Association;
export function associate(dir: string, target: string, options?: AssociateOptions): Association;
/** The association of `dir` or of its nearest associated ancestor, or null. */
export function association(dir: string, options?: AssociationStoreOptions): Association | null;
/** The associations of a workload (and of namespace, context, kubeconfig, those given). */
export function findAssociations(kind: WorkloadKind, name: string, options?: FindAssociationsOptions): Association[];
export function findAssociations(target: string, options?: FindAssociationsOptions): Association[];
/** Every association. */
export function associations(options?: AssociationStoreOptions): Association[];
/** Remove the association of exactly `dir`; false when it had none. */
export function dissociate(dir: string, options?: AssociationStoreOptions): boolean;

export interface DevConfigLocation extends CallOptions {
  namespace?: string;
  /** The application whose ConfigMap dev.nocalhost.config.<app> holds it; default: the workload's annotation. */
  app?: string;
}

export interface DevConfigWriteOptions extends DevConfigLocation {
  /** The config (YAML). */
  config: string;
  /** The resourceVersion devConfigRead gave; without it, written only where there is none yet. */
  resourceVersion?: string;
}

export interface StoredDevConfig {
  config: string | null;
  resource_version: string;
  source: string;
}

export interface DevProfileOptions extends AssociationStoreOptions {
  namespace?: string;
}

export interface RememberDevProfileOptions extends DevProfileOptions {
  image?: string;
  container?: string;
  workdir?: string;
}

export interface DevProfile {
  context: string;
  namespace: string;
  kind: string;
  name: string;
  image: string;
  container: string;
  workdir: string;
  updated: string;
}
