'use strict';
// Errors raised by nocalhost: one class per C error code of nocalhost.h.
// Every error has `code` (the C name, e.g. 'NH_ENOTFOUND'), `errno` (its
// number, e.g. -9), `httpStatus` (0 without an HTTP answer) and `reason`
// (the Kubernetes Status reason, '' when there is none).

const native = require('./native');

class NocalhostError extends Error {
  constructor(message, errno = -1, httpStatus = 0, reason = '') {
    super(message);
    this.name = new.target.name;
    this.errno = errno;
    this.code = native.errorName(errno);
    this.httpStatus = httpStatus;
    this.reason = reason;
  }
}

// The one table from C codes to classes; codes not in it make a NocalhostError.
const TABLE = [
  [-2, 'InvalidArgumentError'],
  [-3, 'OutOfMemoryError'],
  [-4, 'ConfigError'],
  [-5, 'ConnectError'],
  [-6, 'TLSError'],
  [-7, 'TimeoutError'],
  [-8, 'CancelledError'],
  [-9, 'NotFoundError'],
  [-10, 'AlreadyExistsError'],
  [-11, 'ConflictError'],
  [-12, 'UnauthorizedError'],
  [-13, 'ForbiddenError'],
  [-14, 'InvalidError'],
  [-15, 'GoneError'],
  [-16, 'TooManyRequestsError'],
  [-17, 'ServerError'],
  [-18, 'ProtocolError'],
  [-19, 'IOError'],
  [-20, 'BusyError'],
  [-21, 'UnsupportedError'],
  [-22, 'InvalidStateError'],
];

const errors = { NocalhostError };
const byCode = new Map();
for (const [errno, name] of TABLE) {
  // A named class per code, so that `instanceof` and stack traces read naturally.
  const cls = { [name]: class extends NocalhostError {} }[name];
  errors[name] = cls;
  byCode.set(errno, cls);
}

/**
 * How a call cancelled through its AbortSignal rejects, as Node's own APIs do:
 * `name` 'AbortError', `code` 'ABORT_ERR', `cause` the signal's reason. It is
 * a CancelledError (errno -8, NH_ECANCELLED) too; a call stopped by close()
 * rejects with a plain CancelledError.
 */
class AbortError extends errors.CancelledError {
  constructor(message = 'The operation was aborted', options = undefined) {
    super(message, -8);
    this.code = 'ABORT_ERR';
    if (options && 'cause' in options) this.cause = options.cause;
  }
}
errors.AbortError = AbortError;

/** The error for a C code (used by the addon, and by the facade for its own checks). */
function makeError(errno, message, httpStatus = 0, reason = '') {
  const Cls = byCode.get(errno) || NocalhostError;
  return new Cls(message, errno, httpStatus, reason);
}

/** The C codes by name: ErrorCode.NH_ENOTFOUND === -9. */
const ErrorCode = Object.freeze(
  Object.fromEntries([[0, 'NH_OK'], [-1, 'NH_ERROR'], ...TABLE].map(([n]) => [native.errorName(n), n])),
);

native.setErrorFactory(makeError);

module.exports = { ...errors, ErrorCode, makeError, errorClasses: byCode };
