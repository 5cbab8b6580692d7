'use strict';
// The workload tree with its dev-mode overlay, its watch, and pod logs
// (nh_tree_* and nh_pod_logs* of nocalhost.h), behind Client.tree(),
// Client.watchTree(), Client.logPod() and Client.logs().

const native = require('./native');
const { Feed } = require('./feed');
const { InvalidArgumentError } = require('./errors');

const TREE_EVENT_NAMES = Object.freeze({ 1: 'ADDED', 2: 'MODIFIED', 3: 'DELETED', 4: 'SYNCED' });
const TreeEventType = Object.freeze(Object.fromEntries(Object.values(TREE_EVENT_NAMES).map((n) => [n, n])));

/** The native tree options of {kinds, namespace, allNamespaces, labelSelector}. */
function treeOptions({ kinds, namespace, allNamespaces, labelSelector } = {}) {
  if (typeof kinds === 'string') kinds = kinds.split(',').filter(Boolean);
  if (kinds !== undefined && kinds !== null && !Array.isArray(kinds)) {
    throw new InvalidArgumentError('kinds must be a string or an array of strings', -2);
  }
  return { kinds: kinds || undefined, namespace, allNamespaces, labelSelector };
}

/** The native log options of {namespace, container, follow, tail, since (seconds), previous, timestamps}. */
function logOptions({ namespace, container, follow, tail, since, previous, timestamps } = {}) {
  if (tail !== undefined && tail !== null && !(Number.isInteger(tail) && tail >= 0)) {
    throw new InvalidArgumentError(`tail must be an integer >= 0, got ${tail}`, -2);
  }
  if (since !== undefined && since !== null && !(typeof since === 'number' && since > 0)) {
    throw new InvalidArgumentError(`since must be a positive number of seconds, got ${since}`, -2);
  }
  return {
    namespace,
    container,
    follow: Boolean(follow),
    tailLines: tail === undefined || tail === null ? -1 : tail,
    sinceSeconds: since ? Math.max(1, Math.floor(since)) : 0,
    previous: Boolean(previous),
    timestamps: Boolean(timestamps),
  };
}

/**
 * The tree kept current. Events: 'event' ({type, entry}: every entry as
 * ADDED, then SYNCED with the whole tree as `entry`, then each change),
 * 'error', 'end'. Also `for await (const event of watch)`.
 */
class TreeWatch extends Feed {
  constructor(client, { signal, ...options } = {}) {
    const o = treeOptions(options);
    super((cancel, onEvent) => native.treeWatch(client._native, o, cancel, onEvent), signal);
    this.client = client; // kept alive while the watch runs
  }

  _convert(type, raw) {
    return { type: TREE_EVENT_NAMES[type] || String(type), entry: JSON.parse(raw) };
  }
}

/**
 * A pod's log lines. Events: 'line' (a string, without its newline), 'error',
 * 'end' (all lines read, or the followed container ended). Also
 * `for await (const line of logs)`.
 */
class LogStream extends Feed {
  constructor(client, target, { signal, ...options } = {}) {
    const o = logOptions(options);
    super((cancel, onLine) => native.podLogs(client._native, String(target), o, cancel, onLine), signal, 'line');
    this.client = client;
  }

  _convert(_kind, line) {
    return line;
  }
}

module.exports = { TreeWatch, LogStream, TreeEventType, treeOptions, logOptions };
