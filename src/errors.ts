/**
 * The one error type of modelctl. Every failure the library expects carries a stable code, the exit code the CLI
 * uses for it, and a hint that tells the user what to do next. Anything else reaching the CLI is a bug and prints
 * its stack.
 */

export const EXIT_CODES = {
  OK: 0,
  CHECK_FAILED: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  INTEGRITY: 4,
  CONVERSION: 5,
  MISSING_DEPENDENCY: 6,
  NETWORK: 7,
  CONFLICT: 8,
  NOT_AVAILABLE: 9,
  IO: 10,
  INTERRUPTED: 130,
} as const;

/** Stable error codes: scripts may match on them (`--json` prints `error.code`). */
export type ErrorCode =
  | 'USAGE'
  | 'INVALID_NAME'
  | 'INVALID_REFERENCE'
  | 'INVALID_INPUT'
  | 'UNKNOWN_FORMAT'
  | 'NOT_FOUND'
  | 'PATH_NOT_FOUND'
  | 'PERMISSION_DENIED'
  | 'INTEGRITY'
  | 'CORRUPT_MANIFEST'
  | 'CORRUPT_MODEL'
  | 'VERSION_EXISTS'
  | 'CONFLICT'
  | 'LOCK_TIMEOUT'
  | 'IO'
  | 'CHECK_FAILED'
  | 'NOT_AVAILABLE'
  | 'CONVERSION_FAILED'
  | 'MISSING_DEPENDENCY'
  | 'NETWORK'
  | 'INTERRUPTED';

const EXIT_BY_CODE: Record<ErrorCode, number> = {
  USAGE: EXIT_CODES.USAGE,
  INVALID_NAME: EXIT_CODES.USAGE,
  INVALID_REFERENCE: EXIT_CODES.USAGE,
  INVALID_INPUT: EXIT_CODES.USAGE,
  UNKNOWN_FORMAT: EXIT_CODES.USAGE,
  NOT_FOUND: EXIT_CODES.NOT_FOUND,
  PATH_NOT_FOUND: EXIT_CODES.NOT_FOUND,
  PERMISSION_DENIED: EXIT_CODES.USAGE,
  INTEGRITY: EXIT_CODES.INTEGRITY,
  CORRUPT_MANIFEST: EXIT_CODES.INTEGRITY,
  CORRUPT_MODEL: EXIT_CODES.USAGE,
  VERSION_EXISTS: EXIT_CODES.CONFLICT,
  CONFLICT: EXIT_CODES.CONFLICT,
  LOCK_TIMEOUT: EXIT_CODES.CONFLICT,
  IO: EXIT_CODES.IO,
  CHECK_FAILED: EXIT_CODES.CHECK_FAILED,
  NOT_AVAILABLE: EXIT_CODES.NOT_AVAILABLE,
  CONVERSION_FAILED: EXIT_CODES.CONVERSION,
  MISSING_DEPENDENCY: EXIT_CODES.MISSING_DEPENDENCY,
  NETWORK: EXIT_CODES.NETWORK,
  INTERRUPTED: EXIT_CODES.INTERRUPTED,
};

export interface ModelctlErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Structured facts for `--json` output (never secrets). */
  details?: Record<string, unknown>;
}

export class ModelctlError extends Error {
  override readonly name = 'ModelctlError';
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ModelctlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.exitCode = EXIT_BY_CODE[code];
    this.hint = options.hint;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      exitCode: this.exitCode,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export function isModelctlError(err: unknown): err is ModelctlError {
  return err instanceof ModelctlError;
}

/** Turns an fs error about a user-given path into a one-line ModelctlError; other errors pass through. */
export function fsError(err: unknown, path: string, what = 'read'): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new ModelctlError('PATH_NOT_FOUND', `no such file or folder: ${path}`, {
      hint: 'check the path; relative paths are resolved from the current folder',
      cause: err,
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new ModelctlError('PERMISSION_DENIED', `permission denied: cannot ${what} ${path}`, {
      hint: 'check the file permissions, or run as a user that can read it',
      cause: err,
    });
  }
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS' || code === 'EIO' || code === 'EMFILE' || code === 'ENFILE') {
    return ioError(err, path);
  }
  if (code === 'EISDIR') {
    return new ModelctlError('INVALID_INPUT', `expected a file but found a folder: ${path}`, { cause: err });
  }
  return err;
}

const IO_HINTS: Record<string, string> = {
  ENOSPC: 'the disk is full: free space (`modelctl gc --max-size ...` helps) and try again',
  EDQUOT: 'the disk quota is exceeded: free space and try again',
  EROFS: 'the filesystem is read-only: point --home (or MODELCTL_HOME) at a writable folder',
  EACCES: 'check the permissions of the folder, or point --home (or MODELCTL_HOME) at one you can write',
  EPERM: 'check the permissions of the folder, or point --home (or MODELCTL_HOME) at one you can write',
  ENOTDIR: 'a file stands where a folder was expected: check --home (or MODELCTL_HOME)',
  EMFILE: 'too many open files: raise the limit (ulimit -n) and try again',
  ENFILE: 'too many open files on the system: try again later',
  EIO: 'the disk reported an I/O error: check it, then run `modelctl validate`',
};

/**
 * An operating-system error that is not a bug (a full disk, a read-only or unwritable home) as a one-line
 * ModelctlError; anything else is returned unchanged.
 */
export function ioError(err: unknown, path?: string): unknown {
  const e = err as NodeJS.ErrnoException | undefined;
  const code = e?.code;
  if (!code || !(code in IO_HINTS)) return err;
  const where = path ?? e?.path;
  const what = e?.syscall ? `${e.syscall} failed` : 'failed';
  return new ModelctlError('IO', `${what}${where ? ` on ${where}` : ''}: ${code}`, { hint: IO_HINTS[code], cause: err });
}
