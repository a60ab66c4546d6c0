// The canary commands' lock on one stack: held from the first read of the config a change is
// judged on, through the stack file write and the `pulumi up`, to the check of what it deployed.
// Pulumi's own backend lock covers an update only, not the config written before it: two
// `canary step` runs at once both wrote Pulumi.<stack>.yaml, then both updates deployed the
// last value written, and both exited 0 (issue 15, fault 2).
//
// The lock is proper-lockfile's: a directory `Pulumi.<stack>.yaml.lock` beside the stack file
// (mkdir is atomic, also on network file systems), whose mtime the holder refreshes. A holder
// that crashed stops refreshing it; after LOCK_STALE_MS the next run takes it over. Who holds
// it is written to `Pulumi.<stack>.yaml.lock-holder` (not inside the directory: proper-lockfile
// removes the directory with rmdir, which fails on a directory that is not empty).
import * as fs from "fs";
import * as os from "os";
import * as lockfile from "proper-lockfile";
import { StackLockedError, errorMessage } from "./errors";
import { formatDuration, realSleep, type Sleep } from "./time";

/** Default of `--lock-wait` / CANARY_LOCK_WAIT: about one `pulumi up` of a small change. */
export const DEFAULT_LOCK_WAIT_MS = 60_000;
/** The environment variable that sets the wait when `--lock-wait` is not given. */
export const LOCK_WAIT_ENV = "CANARY_LOCK_WAIT";
/** A lock not refreshed for this long belongs to a run that died: it is taken over. */
export const LOCK_STALE_MS = 20_000;
/** How often a waiting run tries again. */
const LOCK_POLL_MS = 250;

/** Serialises the changes of one stack; see fileStackLock. */
export interface StackLock {
  /** The lock directory, e.g. `/project/Pulumi.prod.yaml.lock`. */
  readonly path: string;
  /**
   * Runs `action` while holding the lock. Waits for a lock another run holds, up to the
   * lock's bound, then throws StackLockedError naming the stack and the holder.
   */
  hold<T>(what: string, action: () => Promise<T>): Promise<T>;
}

/** Who holds the lock, as written to the holder file. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** What the holder is doing, e.g. `canaryPercent 20`. */
  readonly what: string;
  /** ISO time the lock was taken. */
  readonly since: string;
}

export interface FileStackLockOptions {
  readonly stackName: string;
  /** `Pulumi.<stack>.yaml`; it need not exist yet. */
  readonly stackFile: string;
  /** How long to wait for another run's lock; 0 fails at once. Default DEFAULT_LOCK_WAIT_MS. */
  readonly waitMs?: number;
  readonly staleMs?: number;
  readonly sleep?: Sleep;
  /** Called once when this run has to wait, with the holder as it reads. */
  readonly onWait?: (holder: string, waitMs: number) => void;
}

/** `pid 123 on host-a, canaryPercent 20, since 2026-...`: the holder as people read it. */
export function describeHolder(holder: LockHolder | undefined): string {
  if (holder === undefined) return "a run that has not said who it is (no holder file)";
  return `pid ${holder.pid} on ${holder.host} (${holder.what}, since ${holder.since})`;
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const value: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
    if (typeof value !== "object" || value === null) return undefined;
    const record = value as Record<string, unknown>;
    const { pid, host, what, since } = record;
    if (
      typeof pid !== "number" ||
      typeof host !== "string" ||
      typeof what !== "string" ||
      typeof since !== "string"
    ) {
      return undefined;
    }
    return { pid, host, what, since };
  } catch {
    // Not written yet (the holder writes it just after taking the lock), or gone.
    return undefined;
  }
}

const isLockedError = (error: unknown): boolean =>
  error instanceof Error && (error as NodeJS.ErrnoException).code === "ELOCKED";

/** The lock of the stack whose config is `stackFile`, beside it. */
export function fileStackLock(options: FileStackLockOptions): StackLock {
  const waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
  if (!(Number.isSafeInteger(waitMs) && waitMs >= 0)) {
    throw new Error(`lock wait ${waitMs} ms: must be a whole number of milliseconds, 0 or more`);
  }
  const staleMs = options.staleMs ?? LOCK_STALE_MS;
  const sleep = options.sleep ?? realSleep;
  const lockPath = `${options.stackFile}.lock`;
  const holderFile = `${options.stackFile}.lock-holder`;
  const lockOptions = {
    stale: staleMs,
    // Refresh well within the stale time, so a slow event loop never looks like a crash.
    update: Math.max(1_000, Math.floor(staleMs / 4)),
    // The stack file may not exist yet (a stack with no config): lock its path as given.
    realpath: false,
    lockfilePath: lockPath,
  };

  const acquire = async (what: string): Promise<() => Promise<void>> => {
    const compromised: { error?: Error } = {};
    // Bounded: one try per poll interval for the wait, plus the first one.
    const tries = Math.floor(waitMs / LOCK_POLL_MS) + 1;
    for (let attempt = 1; ; attempt++) {
      try {
        const release = await lockfile.lock(options.stackFile, {
          ...lockOptions,
          // The default throws from a timer and kills the process; the holder is told instead.
          onCompromised: (error) => {
            compromised.error = error;
          },
        });
        const holder: LockHolder = {
          pid: process.pid,
          host: os.hostname(),
          what,
          since: new Date().toISOString(),
        };
        fs.writeFileSync(holderFile, `${JSON.stringify(holder)}\n`);
        return async () => {
          fs.rmSync(holderFile, { force: true });
          if (compromised.error !== undefined) {
            throw new Error(
              `the lock ${lockPath} of stack ${options.stackName} was lost while ${what} ran ` +
                `(${compromised.error.message}): another run may have changed the stack since; ` +
                `check it with \`canary status --stack ${options.stackName}\``,
            );
          }
          await release();
        };
      } catch (error) {
        if (!isLockedError(error)) {
          throw new Error(`could not take the lock ${lockPath}: ${errorMessage(error)}`, {
            cause: error,
          });
        }
        const holder = describeHolder(readHolder(holderFile));
        if (attempt >= tries) {
          throw new StackLockedError(
            `stack ${options.stackName} is locked by another canary command: ${holder}. ` +
              `Waited ${formatDuration(waitMs)} for it (--lock-wait, or ${LOCK_WAIT_ENV}); ` +
              `run again when it is done. The lock is ${lockPath}; a lock whose holder died is ` +
              `taken over once it is ${formatDuration(staleMs)} old.`,
            holder,
          );
        }
        if (attempt === 1) options.onWait?.(holder, waitMs);
        await sleep(LOCK_POLL_MS);
      }
    }
  };

  return {
    path: lockPath,
    hold: async <T>(what: string, action: () => Promise<T>): Promise<T> => {
      const release = await acquire(what);
      let result: T;
      try {
        result = await action();
      } catch (error) {
        // The action's error is the one to report; a failed release only adds to it.
        await release().catch(() => undefined);
        throw error;
      }
      await release();
      return result;
    },
  };
}

/** Runs `action` under the driver's lock, or as is for a driver without one. */
export function withStackLock<T>(
  lock: StackLock | undefined,
  what: string,
  action: () => Promise<T>,
): Promise<T> {
  return lock === undefined ? action() : lock.hold(what, action);
}
