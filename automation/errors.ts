// Errors the `canary` command maps to its exit codes; each message is written for a person.
import { EXIT_ERROR, EXIT_REFUSED } from "./exitCodes";

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

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
