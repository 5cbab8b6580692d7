'use strict';
// The option keys each call takes. A key not in its list is a TypeError naming
// the key and the closest valid one, so that a misspelt option (`namepsace`)
// never silently falls back to a default.

const SIGNAL = ['signal'];
const SYNC = ['mode', 'ignore', 'include', 'useGitignore', 'stateDir', 'compression', 'connectTimeoutMs', 'maxBackoffMs',
  'deleteProtection', 'once'];
const DEV_CONFIG = ['image', 'namespace', 'container', 'workdir', 'env', 'resources', 'sidecarImage', 'syncPort', 'mode',
  'developer', 'apiVersion', 'podTemplatePath', 'replicasPath', 'configPath', 'appName', 'ignoreClusterConfig',
  'imagePullPolicy', 'patches', 'persistentDirs', ...SIGNAL];
const DEV_QUERY = ['namespace', 'mode', 'developer', ...SIGNAL];
const APP = ['namespace', 'valuesFiles', 'set', 'configPath', ...SIGNAL];
const EXEC = ['stdin', 'namespace', 'container', 'tty', 'timeoutMs', ...SIGNAL];

const KEYS = {
  Client: ['kubeconfig', 'kubeconfigData', 'context', 'namespace', 'timeoutMs', 'maxRetries', 'userAgent'],
  call: SIGNAL,
  request: ['method', 'path', 'body', 'contentType', 'timeoutMs', ...SIGNAL],
  // get, create, replace, delete: method, path and body are their arguments.
  verb: ['contentType', 'timeoutMs', ...SIGNAL],
  patch: ['patchType', 'contentType', 'timeoutMs', ...SIGNAL],
  watch: ['resourceVersion', 'labelSelector', 'fieldSelector', 'durationMs', ...SIGNAL],
  resolveTarget: ['namespace', ...SIGNAL],
  exec: EXEC,
  execStart: EXEC,
  portForward: ['namespace', 'address', 'follow', 'timeoutMs', ...SIGNAL],
  reverseForward: ['namespace', 'mode', 'developer', 'address', 'timeoutMs', 'syncdDir', ...SIGNAL],
  startSync: SYNC,
  sessionStartSync: [...SYNC, 'timeoutMs', 'onEvent', ...SIGNAL],
  devConfigResolve: DEV_CONFIG,
  devStart: [...DEV_CONFIG, 'timeoutMs', 'rollbackOnFailure', 'patchErrorsFatal', 'owner', 'leaseDurationS', 'onEvent',
    'localDir', 'sync', 'endOnExit', 'local', 'localPorts', 'forwards', 'headers', 'router'],
  devEnd: ['namespace', 'mode', 'developer', 'owner', 'timeoutMs', 'leaseDurationS', 'force', 'onEvent', ...SIGNAL],
  devStatus: DEV_QUERY,
  devAttach: [...DEV_QUERY, 'endOnExit'],
  devList: ['namespace', 'allNamespaces', ...SIGNAL],
  devPvc: ['namespace', ...SIGNAL],
  devEnv: ['namespace', 'container', 'format', 'secrets', ...SIGNAL],
  devRun: [...DEV_QUERY, 'args', 'configPath', 'appName', 'localPort', 'stdin', 'timeoutMs'],
  sessionRun: ['args', 'configPath', 'appName', 'localPort', 'stdin', 'timeoutMs', ...SIGNAL],
  terminal: [...EXEC, 'shell'],
  flush: ['timeoutMs', ...SIGNAL],
  // The per-user agent (docs/agent.md).
  agent: ['dir', 'agentPath', 'timeoutMs'],
  agentForward: ['namespace', 'dir', 'agentPath', 'timeoutMs'],
  tree: ['kinds', 'namespace', 'allNamespaces', 'labelSelector', ...SIGNAL],
  logPod: ['namespace', 'container', ...SIGNAL],
  logs: ['namespace', 'container', 'follow', 'tail', 'since', 'previous', 'timestamps', ...SIGNAL],
  // Dev spaces (docs/spaces.md) and applications (docs/apps.md).
  createSpace: ['existingNamespace', 'cpu', 'memory', 'storage', 'pods', 'extraRules', 'tokenSeconds', ...SIGNAL],
  shareSpace: ['tokenSeconds', ...SIGNAL],
  renewSpace: ['revoke', 'tokenSeconds', ...SIGNAL],
  spaces: ['developer', ...SIGNAL],
  deleteSpace: ['developer', ...SIGNAL],
  installApp: APP,
  upgradeApp: APP,
  apps: ['namespace', 'allNamespaces', ...SIGNAL],
  uninstallApp: ['namespace', ...SIGNAL],
};

/** Levenshtein distance, for the suggestion. */
function distance(a, b) {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The valid key closest to `key`, or undefined when none is near. */
function closest(key, valid) {
  let best;
  let bestDistance = Infinity;
  for (const v of valid) {
    const d = distance(key, v);
    if (d < bestDistance) [best, bestDistance] = [v, d];
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/**
 * Throws a TypeError (code 'ERR_INVALID_ARG_VALUE') when `options` has a key
 * `what`'s call does not take; returns `options` (or {} for undefined/null).
 */
function checkOptions(what, options, keys = KEYS[what]) {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    const e = new TypeError(`${what}: options must be an object, got ${Array.isArray(options) ? 'an array' : typeof options}`);
    e.code = 'ERR_INVALID_ARG_TYPE';
    throw e;
  }
  for (const key of Object.keys(options)) {
    if (keys.includes(key)) continue;
    const near = closest(key, keys);
    const e = new TypeError(
      `${what}: unknown option '${key}'` + (near ? ` (did you mean '${near}'?)` : ` (valid: ${keys.join(', ')})`),
    );
    e.code = 'ERR_INVALID_ARG_VALUE';
    throw e;
  }
  return options;
}

module.exports = { checkOptions, KEYS };
