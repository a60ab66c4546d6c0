// Errors the `canary` command maps to its exit codes; each message is written for a person.
import {
  EXIT_CHANGED,
  EXIT_ERROR,
  EXIT_LOCKED,
  EXIT_NOT_DEPLOYED,
  EXIT_REFUSED,
} from "./exitCodes";

/** Input refused before anything was changed: a bad argument, a plan the stack does not allow. */
export class CanaryRefusedError extends Error {
  readonly exitCode = EXIT_REFUSED;
  constructor(message: string) {
    super(message);
    this.name = "CanaryRefusedError";
  }
}

/**
 * A `pulumi up` failed. The message keeps Pulumi's own message and says which config values
 * were written back (see restoreNote).
 */
export class UpFailedError extends Error {
  readonly exitCode = EXIT_ERROR;
  constructor(
    message: string,
    /** The error Pulumi's Automation API threw. */
    readonly pulumiError: unknown,
  ) {
    super(message);
    this.name = "UpFailedError";
  }
}

/** Another update held the stack's lock for every one of our attempts. */
export class StackBusyError extends Error {
  readonly exitCode = EXIT_ERROR;
  constructor(
    message: string,
    readonly lastError: unknown,
  ) {
    super(message);
    this.name = "StackBusyError";
  }
}

/** Another canary command held the stack's lock (stackLock.ts) for the whole wait. */
export class StackLockedError extends Error {
  readonly exitCode = EXIT_LOCKED;
  constructor(
    message: string,
    /** Who holds the lock, as the holder file says. */
    readonly holder: string,
  ) {
    super(message);
    this.name = "StackLockedError";
  }
}

/**
 * `pulumi up` succeeded, but the stack outputs it left are not what this command set: the
 * command must not report success for a value that is not live.
 */
export class NotDeployedError extends Error {
  readonly exitCode = EXIT_NOT_DEPLOYED;
  constructor(
    message: string,
    /** `key: set X, deployed Y`, one per key that differs. */
    readonly differences: readonly string[],
  ) {
    super(message);
    this.name = "NotDeployedError";
  }
}

/** The exit code an error of this library carries, or undefined for any other error. */
/**
 * The config no longer holds what a running command last saw (another command changed it):
 * nothing was written over it.
 */
export class StackChangedError extends Error {
  readonly exitCode = EXIT_CHANGED;
  constructor(message: string) {
    super(message);
    this.name = "StackChangedError";
  }
}

export function exitCodeOf(error: unknown): number | undefined {
  if (
    error instanceof StackChangedError ||
    error instanceof CanaryRefusedError ||
    error instanceof UpFailedError ||
    error instanceof StackBusyError ||
    error instanceof StackLockedError ||
    error instanceof NotDeployedError
  ) {
    return error.exitCode;
  }
  return undefined;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
