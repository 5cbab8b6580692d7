'use strict';
// Long-lived streams: interactive commands (Exec), port-forwards (PortForward)
// and syncs (Sync). Each is an EventEmitter whose native part runs on its own
// thread; `done` settles when it ends; close() stops it.

const { EventEmitter } = require('node:events');
const native = require('./native');
const { checkOptions } = require('./options');
const { withSignal } = require('./signal');

// Enums are their names, as the events carry them.
const ForwardEventType = Object.freeze({
  CONNECTED: 'CONNECTED', CLOSED: 'CLOSED', ERROR: 'ERROR', POD_LOST: 'POD_LOST', RECONNECTED: 'RECONNECTED',
});
const FORWARD_EVENT_NAMES = Object.freeze({ 1: 'CONNECTED', 2: 'CLOSED', 3: 'ERROR', 4: 'POD_LOST', 5: 'RECONNECTED' });
const SyncMode = Object.freeze({ SEND: 0, TWO_WAY: 1 });
const SyncCompression = Object.freeze({ AUTO: 0, ON: 1, OFF: 2 });
const SYNC_STATES = Object.freeze(['starting', 'scanning', 'connecting', 'syncing', 'idle', 'disconnected', 'paused', 'error', 'stopped']);
const SYNC_EVENT_NAMES = Object.freeze({ 1: 'state', 2: 'progress', 3: 'fileError', 4: 'conflict', 5: 'remoteChange' });

/** Settles `ready` with the first event or the failure of `done`. */
function readiness(done) {
  let resolve;
  let reject;
  const ready = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.then(() => reject(new Error('ended before it started')), reject);
  ready.catch(() => {});
  return { ready, resolve };
}

/**
 * A running interactive command (nh_exec). Events: 'stdout' and 'stderr'
 * (Buffers, in order), 'exit' (code). `ready` resolves once connected;
 * `done` resolves with the exit code (or rejects with the error that ended
 * the session, CancelledError after close()).
 */
class Exec extends EventEmitter {
  constructor(client, target, argv, options, cancel) {
    super();
    this.pod = '';
    this.protocol = '';
    const [live, done] = native.execStart(client, target, argv, options, cancel, (kind, data, protocol) => {
      if (kind === 0) {
        this.pod = data.toString();
        this.protocol = protocol;
        started.resolve(this);
      } else {
        this.emit(kind === 2 ? 'stderr' : 'stdout', data);
      }
    });
    this._live = live;
    this.done = done.then((code) => {
      this.emit('exit', code);
      return code;
    });
    this.done.catch(() => {});
    const started = readiness(done);
    this.ready = started.ready;
  }

  /** Send data (string or Buffer) to stdin. Throws InvalidStateError once the command ended. */
  write(data) {
    native.execWrite(this._live, data);
  }

  /** End stdin (UnsupportedError on v4.channel.k8s.io servers). */
  closeStdin() {
    native.execCloseStdin(this._live);
  }

  /** Tell the command's terminal its size (tty sessions). */
  resize(width, height) {
    native.execResize(this._live, width, height);
  }

  /** Resolves with the exit code. */
  wait() {
    return this.done;
  }

  /** Stop the command if it still runs (done then rejects with CancelledError). Idempotent. */
  close() {
    native.liveStop(this._live);
  }
}

/**
 * Local ports forwarded to a pod (nh_forward). Event 'connection' with
 * {type, pod, localPort, remotePort, message}. `ready` resolves once every
 * port is bound (then `localPorts` and `pod` are set); `done` settles when
 * forwarding ends (rejects with CancelledError after close()).
 */
class PortForward extends EventEmitter {
  constructor(client, target, ports, options, cancel) {
    super();
    this.localPorts = [];
    this.pod = '';
    const [live, done] = native.forwardStart(client, target, ports, options, cancel, (kind, message, pod, local, remote) => {
      if (kind === 0) {
        this.localPorts = message.split(',').map(Number);
        this.pod = pod;
        started.resolve(this);
        return;
      }
      this.emit('connection', {
        type: FORWARD_EVENT_NAMES[kind] || String(kind),
        pod,
        localPort: Number(local),
        remotePort: Number(remote),
        message,
      });
    });
    this._live = live;
    this.done = done;
    this.done.catch(() => {});
    const started = readiness(done);
    this.ready = started.ready;
  }

  get localPort() {
    return this.localPorts[0];
  }

  /** Stop forwarding and close every connection. Idempotent. */
  close() {
    native.liveStop(this._live);
    return this.done.catch(() => {});
  }
}

/**
 * Listeners in a dev pod whose connections come back to local ports
 * (nh_reverse). Event 'connection' with {type, pod, remotePort, localPort,
 * message}. `ready` resolves once every listener is bound in the pod (then
 * `pod` is set); `done` settles when it ends (rejects with CancelledError after
 * close()).
 */
class ReverseForward extends EventEmitter {
  constructor(client, kind, name, ports, options, cancel) {
    super();
    this.pod = '';
    const [live, done] = native.reverseStart(client, kind, name, ports, options, cancel, (type, message, pod, remote, local) => {
      if (type === 0) {
        this.pod = pod;
        started.resolve(this);
        return;
      }
      if (type === 5) this.pod = pod;
      this.emit('connection', {
        type: FORWARD_EVENT_NAMES[type] || String(type),
        pod,
        remotePort: Number(remote),
        localPort: Number(local),
        message,
      });
    });
    this._live = live;
    this.done = done;
    this.done.catch(() => {});
    const started = readiness(done);
    this.ready = started.ready;
  }

  /** Close the tunnel, the pod's listeners and every connection. Idempotent. */
  close() {
    native.liveStop(this._live);
    return this.done.catch(() => {});
  }
}

function parseStatus(text) {
  const n = text.split(',').map(Number);
  return {
    state: SYNC_STATES[n[0]] || String(n[0]),
    filesDone: n[1],
    filesTotal: n[2],
    bytesDone: n[3],
    bytesTotal: n[4],
    filesSynced: n[5],
    fileErrors: n[6],
    conflicts: n[7],
    reconnects: n[8],
    errorCode: n[9],
  };
}

/**
 * A running sync (nh_sync) of a local directory to an nhsyncd. Events:
 * 'state', 'progress', 'fileError', 'conflict', 'remoteChange', each with
 * {path, message, code, status}. `ready` resolves once started; `done`
 * settles after close() (the index saved).
 */
class Sync extends EventEmitter {
  /** `start(onEvent)` makes the native sync: [live, done] (startSync, Session.startSync, Session.sync). */
  constructor(start, onDevEvent) {
    super();
    const [live, done] = start((kind, path, message, code, status) => {
      if (kind === 0) {
        started.resolve(this);
        return;
      }
      if (kind >= 100) {
        if (onDevEvent) onDevEvent(kind - 100, path, message, code);
        return;
      }
      this.emit(SYNC_EVENT_NAMES[kind] || 'event', {
        path,
        message,
        code: Number(code),
        status: status ? parseStatus(status) : null,
      });
    });
    this._live = live;
    this.done = done;
    this.done.catch(() => {});
    const started = readiness(done);
    this.ready = started.ready;
    this._closed = false;
  }

  /** State and counters: {state: 'idle'|..., filesSynced, fileErrors, ...}. */
  status() {
    return parseStatus(native.syncStatus(this._live));
  }

  /** The last connection or fatal error's message ('' if none). */
  lastError() {
    return native.syncLastError(this._live);
  }

  /**
   * Resolves once every change made before the call (and the first full sync)
   * is durable on the server. Options: timeoutMs (default: no limit), signal.
   */
  async flush(options = {}) {
    const { timeoutMs = -1, signal } = checkOptions('flush', options);
    await this.ready;
    await withSignal(signal, (cancel) => native.syncFlush(this._live, timeoutMs, cancel));
  }

  pause() {
    native.syncPause(this._live);
  }

  resume() {
    native.syncResume(this._live);
  }

  /** Stop the sync (its index is saved); resolves when it has stopped. Idempotent. */
  async close() {
    this._closed = true;
    native.liveStop(this._live);
    await this.done.catch(() => {});
  }

  get closed() {
    return this._closed;
  }
}

/**
 * Start syncing `localDir` to the nhsyncd at `address` ('host:port') with
 * `token`. Options: mode (SyncMode), ignore, include (gitignore-syntax
 * patterns), useGitignore, stateDir, compression, connectTimeoutMs,
 * maxBackoffMs, deleteProtection (two-way only: a deletion made on the
 * server never deletes the local file; the local copy is sent back,
 * reported as a 'remoteChange' event whose message says "delete
 * protection"), once (a one-shot sync: the tree as it is now, nothing
 * watched; flush, then stop). Resolves once running; the first sync goes on in the
 * background (await sync.flush()).
 */
async function startSync(localDir, address, token, options = {}) {
  checkOptions('startSync', options);
  const sync = new Sync((onEvent) => native.syncStart(localDir, address, token, options, onEvent));
  await sync.ready;
  return sync;
}

module.exports = { Exec, PortForward, ReverseForward, Sync, startSync, ForwardEventType, SyncMode, SyncCompression };
