'use strict';
// A long-running native call seen from JS: an EventEmitter and async iterable
// with close(), a `done` Promise and AbortSignal support. Watches, the tree's
// watch and log streams are Feeds.

const { EventEmitter } = require('node:events');
const native = require('./native');
const { CancelledError } = require('./errors');
const { abortError } = require('./signal');

/**
 * A long-running call whose events are emitted as `eventName` (default
 * 'event'), then 'end'; 'error' (the error that ended it) only when someone
 * listens. `done` settles when it ends; close() stops it. Also
 * `for await (const item of feed)`. start(cancel, onEvent) begins the native
 * call and returns its Promise; subclasses turn the native arguments into an
 * item with _convert().
 */
class Feed extends EventEmitter {
  constructor(start, signal, eventName = 'event') {
    super();
    this._eventName = eventName;
    this._cancel = new native.Cancel();
    this._closed = false;
    // Throws at once on a closed client or bad arguments.
    const started = start(this._cancel, (...args) => this.emit(eventName, this._convert(...args)));
    const onAbort = () => this._cancel.trigger();
    if (signal) {
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    this.done = started.then(
      () => this._end(),
      (error) => {
        if (this._closed && error instanceof CancelledError) return this._end();
        if (signal && signal.aborted && error instanceof CancelledError) error = abortError(signal);
        if (this.listenerCount('error') > 0) this.emit('error', error);
        this._end();
        throw error;
      },
    );
    this.done.catch(() => {}); // rejections are for those who await `done`
    this.done.finally(() => signal && signal.removeEventListener('abort', onAbort)).catch(() => {});
  }

  _end() {
    this._closed = true;
    this.emit('end');
  }

  /** Stop it; resolves once it has ended. Idempotent. */
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
    this.on(this._eventName, onEvent);
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
      await this.done; // rethrows the error that ended the call
    } finally {
      this.off(this._eventName, onEvent);
      this.off('end', onEnd);
      if (!finished) await this.close();
    }
  }
}

module.exports = { Feed };
