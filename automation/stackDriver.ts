// The one narrow interface through which the canary library touches a stack, its Pulumi
// Automation API implementation, and the retry of updates that another update holds off.
import {
  CommandError,
  ConcurrentUpdateError,
  LocalWorkspace,
  Stack,
  StackNotFoundError,
} from "@pulumi/pulumi/automation";
import type { ConfigKeyName } from "../configKeys";
import { CanaryRefusedError, StackBusyError, errorMessage } from "./errors";
import { stackFilePath } from "./project";
import { fileStackLock, type StackLock } from "./stackLock";
import { formatDuration, type Sleep } from "./time";

/** The project name in Pulumi.yaml: config keys of this project are `canary-release:<key>`. */
export const PROJECT_NAME = "canary-release";

/** The keys of the config table (configKeys.ts) the canary commands read or write. */
const CANARY_KEYS = [
  "app",
  "canaryPercent",
  "stableRevision",
  "candidateRevision",
  "namespace",
  "maxStepPercent",
  "render",
] as const satisfies readonly ConfigKeyName[];

/** Each of them with the project prefix, as the stack file spells it. */
export const CONFIG_KEYS = Object.freeze(
  Object.fromEntries(CANARY_KEYS.map((name) => [name, `${PROJECT_NAME}:${name}`])),
) as { readonly [K in (typeof CANARY_KEYS)[number]]: `${typeof PROJECT_NAME}:${K}` };

export interface UpOptions {
  /** Pulumi's progress output, as it is printed. */
  readonly onOutput?: (text: string) => void;
  /** Message recorded with the update in the stack's history. */
  readonly message?: string;
}

export interface UpSummary {
  /** Pulumi's result: "succeeded" (a failed update throws instead). */
  readonly result: string;
  /** Version of the stack this update created. */
  readonly version?: number;
  /** Resources per operation, e.g. `{ same: 40, update: 1 }`. */
  readonly resourceChanges?: Readonly<Record<string, number>>;
}

/**
 * What the canary commands need of a stack. Config keys are full keys
 * (`canary-release:canaryPercent`); values are Pulumi's strings, as in `Pulumi.<stack>.yaml`.
 */
export interface StackDriver {
  readonly stackName: string;
  /**
   * Serialises changes of this stack across processes (stackLock.ts): the canary operations
   * hold it from reading the config they judge to checking what the update deployed. Absent:
   * no lock (an in-memory stack of a test).
   */
  readonly lock?: StackLock;
  /** The value, or undefined when the key is not set. */
  getConfig(key: string): Promise<string | undefined>;
  /**
   * The whole stack config (secrets decrypted, as the program sees it) and which keys are
   * secrets: what config.ts judges a proposed change with.
   */
  getAllConfig(): Promise<StackConfig>;
  setConfig(key: string, value: string): Promise<void>;
  removeConfig(key: string): Promise<void>;
  /** Runs `pulumi up`; throws (with Pulumi's message) when the update fails. */
  up(options?: UpOptions): Promise<UpSummary>;
  /** Outputs of the last update, values unwrapped; empty when the stack was never updated. */
  outputs(): Promise<Readonly<Record<string, unknown>>>;
}

export interface StackConfig {
  readonly values: Readonly<Record<string, string>>;
  readonly secretKeys: readonly string[];
}

export interface OpenStackOptions {
  readonly stackName: string;
  /** The project directory: where Pulumi.yaml and Pulumi.<stack>.yaml are. */
  readonly workDir: string;
  /** Extra environment for the Pulumi CLI (e.g. PULUMI_BACKEND_URL in tests). */
  readonly envVars?: Readonly<Record<string, string>>;
  /** How long a change waits for another canary command's lock of this stack (stackLock.ts). */
  readonly lockWaitMs?: number;
  /** Called when a change has to wait for that lock, with its holder. */
  readonly onLockWait?: (holder: string, waitMs: number) => void;
}

/**
 * Selects an existing stack of the project in `workDir` through the Automation API. A stack
 * that does not exist is refused (nothing to change); a missing Pulumi CLI is an error that
 * says so.
 */
export async function openPulumiStack(options: OpenStackOptions): Promise<StackDriver> {
  let workspace: LocalWorkspace;
  try {
    workspace = await LocalWorkspace.create({
      workDir: options.workDir,
      ...(options.envVars !== undefined ? { envVars: { ...options.envVars } } : {}),
    });
  } catch (error) {
    throw new Error(
      `could not run the Pulumi CLI (\`pulumi\` on PATH) in ${options.workDir}: ` +
        `${commandStderr(error)}\nInstall it (https://www.pulumi.com/docs/install/), or build it ` +
        `with \`npm run cluster:up\` and \`source .e2e/env\`, which puts it on PATH ` +
        `(docs/development.md, "The real tier"), and log in to the stack's backend.`,
      { cause: error },
    );
  }
  try {
    const lock = fileStackLock({
      stackName: options.stackName,
      stackFile: stackFilePath(options.workDir, options.stackName),
      ...(options.lockWaitMs !== undefined ? { waitMs: options.lockWaitMs } : {}),
      ...(options.onLockWait !== undefined ? { onWait: options.onLockWait } : {}),
    });
    return new AutomationStackDriver(await Stack.select(options.stackName, workspace), lock);
  } catch (error) {
    if (error instanceof StackNotFoundError) {
      throw new CanaryRefusedError(
        `stack "${options.stackName}" does not exist in the Pulumi backend you are logged in ` +
          `to (project ${options.workDir}): check --stack against \`pulumi stack ls\`, or ` +
          `create it with \`pulumi stack init ${options.stackName}\``,
      );
    }
    throw error;
  }
}

/** The stderr part of an Automation API CommandError's message, or the whole message. */
function commandStderr(error: unknown): string {
  const message = errorMessage(error);
  const match = /\n stderr: ([\s\S]*?)\n err\?:/.exec(message);
  return (match?.[1] ?? message).trim();
}

/** StackDriver over an Automation API Stack: config lands in `Pulumi.<stack>.yaml`. */
export class AutomationStackDriver implements StackDriver {
  constructor(
    private readonly stack: Stack,
    readonly lock?: StackLock,
  ) {}

  get stackName(): string {
    return this.stack.name;
  }

  async getConfig(key: string): Promise<string | undefined> {
    try {
      return (await this.stack.getConfig(key)).value;
    } catch (error) {
      // `pulumi config get` fails for an unset key; anything else is a real error.
      if (error instanceof CommandError && /configuration key .* not found/i.test(error.message)) {
        return undefined;
      }
      throw error;
    }
  }

  async getAllConfig(): Promise<StackConfig> {
    const all = await this.stack.getAllConfig();
    return {
      values: Object.fromEntries(Object.entries(all).map(([key, v]) => [key, v.value])),
      secretKeys: Object.entries(all)
        .filter(([, v]) => v.secret === true)
        .map(([key]) => key),
    };
  }

  async setConfig(key: string, value: string): Promise<void> {
    await this.stack.setConfig(key, { value });
  }

  async removeConfig(key: string): Promise<void> {
    await this.stack.removeConfig(key);
  }

  async up(options: UpOptions = {}): Promise<UpSummary> {
    const result = await this.stack.up({
      ...(options.onOutput !== undefined ? { onOutput: options.onOutput } : {}),
      ...(options.message !== undefined ? { message: options.message } : {}),
    });
    const summary = result.summary;
    if (summary.result !== "succeeded") {
      throw new Error(`pulumi up ended with result "${summary.result}":\n${result.stderr}`);
    }
    const changes: Record<string, number> = {};
    for (const [op, count] of Object.entries(summary.resourceChanges ?? {})) {
      if (count !== undefined) changes[op] = count;
    }
    return { result: summary.result, version: summary.version, resourceChanges: changes };
  }

  async outputs(): Promise<Readonly<Record<string, unknown>>> {
    const outputs = await this.stack.outputs();
    return Object.fromEntries(Object.entries(outputs).map(([name, o]) => [name, o.value]));
  }
}

export interface RetryPolicy {
  /** Tries in all, the first one included. */
  readonly attempts: number;
  /** Wait before the first retry; doubled before each next one. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/** About two minutes of waiting in all: long enough for a short update to end, bounded. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  attempts: 5,
  initialDelayMs: 5_000,
  maxDelayMs: 60_000,
});

export interface RetryEvent {
  readonly operation: string;
  /** The attempt that just failed, from 1. */
  readonly attempt: number;
  readonly attempts: number;
  readonly delayMs: number;
}

export interface RetryOptions {
  readonly policy?: RetryPolicy;
  readonly sleep: Sleep;
  readonly onRetry?: (event: RetryEvent) => void;
}

export function isConcurrentUpdateError(error: unknown): boolean {
  return error instanceof ConcurrentUpdateError;
}

/**
 * Wraps a driver so that an operation refused because another update holds the stack
 * (ConcurrentUpdateError) is tried again with exponential backoff, a bounded number of times,
 * then fails with a StackBusyError that says so. A conflict means our operation never started,
 * so trying again is safe; every other error passes through untouched.
 */
export function withConcurrentUpdateRetries(
  driver: StackDriver,
  options: RetryOptions,
): StackDriver {
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  const retrying = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    let delayMs = policy.initialDelayMs;
    let waitedMs = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        if (!isConcurrentUpdateError(error)) throw error;
        if (attempt >= policy.attempts) {
          throw new StackBusyError(
            `${operation} on stack ${driver.stackName}: another update is in progress; gave up ` +
              `after ${policy.attempts} attempts over ${formatDuration(waitedMs)}. Wait for it to ` +
              `finish (\`pulumi stack history\`) and run the command again. If no update is running, ` +
              `clear the stale lock: \`pulumi cancel\` on Pulumi Cloud, or remove its file under ` +
              `\`.pulumi/locks/\` in a self-managed backend.\nPulumi said: ${errorMessage(error)}`,
            error,
          );
        }
        options.onRetry?.({ operation, attempt, attempts: policy.attempts, delayMs });
        await options.sleep(delayMs);
        waitedMs += delayMs;
        delayMs = Math.min(delayMs * 2, policy.maxDelayMs);
      }
    }
  };
  return {
    stackName: driver.stackName,
    ...(driver.lock !== undefined ? { lock: driver.lock } : {}),
    getConfig: (key) => retrying(`reading ${key}`, () => driver.getConfig(key)),
    getAllConfig: () => retrying("reading the stack config", () => driver.getAllConfig()),
    setConfig: (key, value) => retrying(`setting ${key}`, () => driver.setConfig(key, value)),
    removeConfig: (key) => retrying(`removing ${key}`, () => driver.removeConfig(key)),
    up: (upOptions) => retrying("pulumi up", () => driver.up(upOptions)),
    outputs: () => retrying("reading outputs", () => driver.outputs()),
  };
}
