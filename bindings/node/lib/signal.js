'use strict';
// Where AbortSignals meet the C library's cancellation tokens.

const native = require('./native');
const { AbortError, CancelledError } = require('./errors');

/** The AbortError for `signal` (Node's convention: the signal's reason as `cause`). */
function abortError(signal) {
  return new AbortError('The operation was aborted', { cause: signal.reason });
}

/**
 * Runs fn(cancel) with a native Cancel that `signal` triggers. A signal that
 * is aborted already rejects at once; a call the signal cancelled rejects with
 * an AbortError instead of the library's CancelledError.
 */
function withSignal(signal, fn) {
  if (signal == null) return fn(undefined);
  if (signal.aborted) return Promise.reject(abortError(signal));
  const cancel = new native.Cancel();
  const onAbort = () => cancel.trigger();
  signal.addEventListener('abort', onAbort, { once: true });
  let result;
  try {
    result = fn(cancel);
  } catch (e) {
    signal.removeEventListener('abort', onAbort);
    throw e;
  }
  return Promise.resolve(result)
    .catch((e) => {
      throw signal.aborted && e instanceof CancelledError ? abortError(signal) : e;
    })
    .finally(() => signal.removeEventListener('abort', onAbort));
}

module.exports = { withSignal, abortError };
