// The canary commands as library functions over a StackDriver: read the canary state, and change
// it with exactly one `pulumi up`, setting the config back when that update fails.
import {
  ConfigError,
  DEFAULTS,
  parseConfig,
  parseWholeNumber,
  WHOLE_NUMBER_KEYS,
  wholeNumberRule,
} from "../config";
import {
  CanaryRefusedError,
  NotDeployedError,
  StackChangedError,
  UpFailedError,
  errorMessage,
} from "./errors";
import { CONFIG_KEYS, PROJECT_NAME, type StackDriver, type UpSummary } from "./stackDriver";
import { withStackLock } from "./stackLock";

/** The canary part of the stack config, as `Pulumi.<stack>.yaml` holds it. */
export interface CanaryConfigView {
  /** The app (the Configuration's name); "" when unset, which config.ts refuses. */
  readonly app: string;
  readonly stableRevision?: string;
  readonly candidateRevision?: string;
  /** Default 0, as in config.ts. */
  readonly canaryPercent: number;
  /** Default `default`, as in config.ts. */
  readonly namespace: string;
  /** The largest traffic increase one update may give; unset: no limit. */
  readonly maxStepPercent?: number;
}

/** What the last successful update deployed, from the stack outputs. */
export interface DeployedView {
  readonly stableRevision?: string;
  readonly candidateRevision?: string;
  readonly canaryPercent?: number;
}

/** Config values to write: a full key to its new value, or undefined to remove the key. */
export type ConfigChange = Readonly<Record<string, string | undefined>>;

const shortKey = (key: string): string =>
  key.startsWith(`${PROJECT_NAME}:`) ? key.slice(PROJECT_NAME.length + 1) : key;

function blankToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/** Reads the canary keys; a value the program would refuse is refused here, naming the key. */
export async function readCanaryConfig(driver: StackDriver): Promise<CanaryConfigView> {
  const [app, stable, candidate, percentText, namespace, maxStepText] = await Promise.all([
    driver.getConfig(CONFIG_KEYS.app),
    driver.getConfig(CONFIG_KEYS.stableRevision),
    driver.getConfig(CONFIG_KEYS.candidateRevision),
    driver.getConfig(CONFIG_KEYS.canaryPercent),
    driver.getConfig(CONFIG_KEYS.namespace),
    driver.getConfig(CONFIG_KEYS.maxStepPercent),
  ]);
  const stackFile = `Pulumi.${driver.stackName}.yaml`;
  const { canaryPercent: percentRange, maxStepPercent: stepRange } = WHOLE_NUMBER_KEYS;
  let canaryPercent = 0;
  if (percentText !== undefined) {
    const parsed = parseWholeNumber(percentText, percentRange.min, percentRange.max);
    if (parsed === undefined) {
      throw new CanaryRefusedError(
        `${CONFIG_KEYS.canaryPercent} = ${JSON.stringify(percentText)} in ${stackFile}: ` +
          wholeNumberRule(percentRange.min, percentRange.max),
      );
    }
    canaryPercent = parsed;
  }
  let maxStepPercent: number | undefined;
  if (blankToUndefined(maxStepText) !== undefined) {
    maxStepPercent = parseWholeNumber(maxStepText ?? "", stepRange.min, stepRange.max);
    if (maxStepPercent === undefined) {
      throw new CanaryRefusedError(
        `${CONFIG_KEYS.maxStepPercent} = ${JSON.stringify(maxStepText)} in ${stackFile}: ` +
          wholeNumberRule(stepRange.min, stepRange.max),
      );
    }
  }
  const stableRevision = blankToUndefined(stable);
  const candidateRevision = blankToUndefined(candidate);
  return {
    app: app ?? "",
    ...(stableRevision !== undefined ? { stableRevision } : {}),
    ...(candidateRevision !== undefined ? { candidateRevision } : {}),
    canaryPercent,
    namespace: blankToUndefined(namespace) ?? "default",
    ...(maxStepPercent !== undefined ? { maxStepPercent } : {}),
  };
}

/** The deployed canary state from stack outputs; undefined when the stack has no outputs. */
export function deployedFromOutputs(
  outputs: Readonly<Record<string, unknown>>,
): DeployedView | undefined {
  if (Object.keys(outputs).length === 0) return undefined;
  const text = (value: unknown): string | undefined =>
    typeof value === "string" && value !== "" ? value : undefined;
  const stableRevision = text(outputs.stableRevision);
  const candidateRevision = text(outputs.candidateRevision);
  const percent = outputs.canaryPercent;
  return {
    ...(stableRevision !== undefined ? { stableRevision } : {}),
    ...(candidateRevision !== undefined ? { candidateRevision } : {}),
    ...(typeof percent === "number" ? { canaryPercent: percent } : {}),
  };
}

/** Where config and the last update disagree, as `key: config X, deployed Y` lines. */
export function configDrift(config: CanaryConfigView, deployed: DeployedView): string[] {
  const drift: string[] = [];
  const compare = (name: string, inConfig: unknown, inDeployment: unknown): void => {
    if (inConfig !== inDeployment) {
      drift.push(`${name}: config ${show(inConfig)}, deployed ${show(inDeployment)}`);
    }
  };
  compare("stableRevision", config.stableRevision, deployed.stableRevision);
  compare("candidateRevision", config.candidateRevision, deployed.candidateRevision);
  if (deployed.canaryPercent !== undefined) {
    compare("canaryPercent", config.canaryPercent, deployed.canaryPercent);
  }
  return drift;
}

const show = (value: unknown): string => (value === undefined ? "(unset)" : String(value));

/** `canaryPercent 20, candidateRevision (removed)`: a change as people read it. */
export function describeChange(change: ConfigChange): string {
  return Object.entries(change)
    .map(([key, value]) => `${shortKey(key)} ${value === undefined ? "(unset)" : value}`)
    .join(", ");
}

export interface ChangeOptions {
  /** Run `pulumi up` after writing the config (default). False: only write the stack file. */
  readonly up?: boolean;
  /**
   * Values the config must still hold, checked under the stack's lock before anything is
   * written (a rollout's candidate and its last deployed percent): another command's change
   * between two steps is never written over (StackChangedError).
   */
  readonly expect?: ConfigChange;
  /** Names the change: the update's message in the stack history, and the commit message. */
  readonly message: string;
  readonly onOutput?: (text: string) => void;
}

export interface ChangeResult {
  readonly stack: string;
  readonly message: string;
  readonly change: ConfigChange;
  /** The values before the change: what is deployed, and what a failed update restores. */
  readonly previous: ConfigChange;
  /** The update's summary; undefined when the change was only written (`up: false`). */
  readonly summary?: UpSummary;
  /** True when nothing was to change: nothing was written, no update ran. */
  readonly unchanged?: boolean;
}

async function writeConfig(driver: StackDriver, change: ConfigChange): Promise<void> {
  for (const [key, value] of Object.entries(change)) {
    if (value === undefined) await driver.removeConfig(key);
    else await driver.setConfig(key, value);
  }
}

/** Writes `previous` back; returns what went wrong instead of throwing, for the caller's message. */
async function restoreConfig(driver: StackDriver, previous: ConfigChange): Promise<string> {
  try {
    await writeConfig(driver, previous);
    return `Pulumi.${driver.stackName}.yaml was set back to the values deployed before: ${describeChange(previous)}.`;
  } catch (error) {
    return (
      `Setting the config back failed too (${errorMessage(error)}): Pulumi.${driver.stackName}.yaml ` +
      `may now hold values that are not deployed; set them back by hand: ${describeChange(previous)}.`
    );
  }
}

/**
 * What the update deployed (the stack outputs) against what `change` set, for the keys the
 * outputs show: `key: set X, deployed Y` lines, empty when they agree.
 */
export function deployedDifferences(
  change: ConfigChange,
  deployed: DeployedView | undefined,
): string[] {
  if (deployed === undefined) {
    return [
      "the stack has no outputs after the update (stableRevision, candidateRevision, canaryPercent)",
    ];
  }
  const differences: string[] = [];
  const compare = (name: keyof DeployedView, expected: unknown): void => {
    if (deployed[name] !== expected) {
      differences.push(`${name}: set ${show(expected)}, deployed ${show(deployed[name])}`);
    }
  };
  for (const [key, value] of Object.entries(change)) {
    if (key === CONFIG_KEYS.canaryPercent) {
      // Unset is config.ts's default, 0.
      compare("canaryPercent", value === undefined ? 0 : Number(value));
    } else if (key === CONFIG_KEYS.stableRevision || key === CONFIG_KEYS.candidateRevision) {
      compare(shortKey(key) as keyof DeployedView, blankToUndefined(value));
    }
  }
  return differences;
}

/**
 * Writes a config change, then runs one `pulumi up`, then checks that the stack outputs show
 * what it set. The config before the change is taken as what is deployed; if writing or the
 * update fails, that config is written back, so the stack file never claims a state that no
 * successful update produced, and the error keeps Pulumi's message. (A failed update may still
 * have changed some resources: Pulumi updates are not transactional. The restored config is what
 * the next `pulumi up` converges to.)
 *
 * All of it runs under the driver's lock (stackLock.ts), which a second canary command waits
 * for: without it both wrote the stack file before either update read it, and one value was
 * never deployed while both commands reported success.
 */
export async function applyConfigChange(
  driver: StackDriver,
  change: ConfigChange,
  options: ChangeOptions,
): Promise<ChangeResult> {
  return withStackLock(driver.lock, describeChange(change), () =>
    applyConfigChangeLocked(driver, change, options),
  );
}

/** applyConfigChange for a caller that holds the driver's lock already. */
async function applyConfigChangeLocked(
  driver: StackDriver,
  change: ConfigChange,
  options: ChangeOptions,
): Promise<ChangeResult> {
  const moved: string[] = [];
  for (const [key, expected] of Object.entries(options.expect ?? {})) {
    // An unset key holds the program's default (canaryPercent 0).
    const fallback = (DEFAULTS as Readonly<Record<string, unknown>>)[shortKey(key)];
    const found =
      blankToUndefined(await driver.getConfig(key)) ??
      (fallback !== undefined ? String(fallback) : undefined);
    if (found !== blankToUndefined(expected)) {
      moved.push(`${key}: expected ${expected ?? "unset"}, found ${found ?? "unset"}`);
    }
  }
  if (moved.length > 0) {
    throw new StackChangedError(
      `${describeChange(change)} not written: another command changed stack ` +
        `${driver.stackName} meanwhile (${moved.join("; ")})`,
    );
  }
  const problems = await proposalProblems(driver, change);
  if (problems !== undefined) {
    // Say whose fault it is: a stack file that is invalid already is not this change's doing.
    const before = await proposalProblems(driver, {});
    throw new CanaryRefusedError(
      before !== undefined
        ? `${describeChange(change)} refused, nothing written: the stack's config is invalid ` +
            `already, before this change; fix it first.\n${before}`
        : `${describeChange(change)} refused, nothing written: the stack's program would ` +
            `refuse this config.\n${problems}`,
    );
  }
  const previous: Record<string, string | undefined> = {};
  for (const key of Object.keys(change)) previous[key] = await driver.getConfig(key);

  try {
    await writeConfig(driver, change);
  } catch (error) {
    const note = await restoreConfig(driver, previous);
    throw new Error(`writing ${describeChange(change)} failed: ${errorMessage(error)}\n${note}`, {
      cause: error,
    });
  }
  const base = { stack: driver.stackName, message: options.message, change, previous };
  if (options.up === false) return base;

  let summary: UpSummary;
  try {
    summary = await driver.up({
      message: options.message,
      ...(options.onOutput !== undefined ? { onOutput: options.onOutput } : {}),
    });
  } catch (error) {
    const note = await restoreConfig(driver, previous);
    throw new UpFailedError(
      `pulumi up failed on stack ${driver.stackName} (${describeChange(change)}):\n` +
        `${errorMessage(error).trim()}\n${note}`,
      error,
    );
  }
  // A successful update proves only that Pulumi ran: the outputs say what is live. They differ
  // when another update ran in between without this lock (a plain `pulumi up`), or when the
  // program did not take the value. The config is left as written: it is this command's intent,
  // and `canary status` shows it beside what is deployed.
  const differences = deployedDifferences(change, deployedFromOutputs(await driver.outputs()));
  if (differences.length > 0) {
    throw new NotDeployedError(
      `pulumi up on stack ${driver.stackName} succeeded, but its outputs do not show ` +
        `${describeChange(change)}:\n${differences.map((d) => `  - ${d}`).join("\n")}\n` +
        `Another update may have run at the same time. Check \`canary status --stack ` +
        `${driver.stackName}\` and \`pulumi stack history\` before going on.`,
      differences,
    );
  }
  return { ...base, summary };
}

export interface CommandOptions {
  /** Run `pulumi up` (default true); false only writes `Pulumi.<stack>.yaml`. */
  readonly up?: boolean;
  readonly onOutput?: (text: string) => void;
  /**
   * Runs under the stack's lock before anything is read or written; throwing refuses the
   * change. The command checks the cluster's Route here, so that another canary command's
   * update in progress is waited for rather than taken for a hand edit.
   */
  readonly beforeChange?: () => Promise<void>;
}

/**
 * The stack's whole config with `change` applied, judged by config.ts exactly as the program
 * will judge it: undefined when valid, else the ConfigError's message (each problem with its
 * key, the value and what is valid). The canary commands keep no rule of their own.
 */
export async function proposalProblems(
  driver: StackDriver,
  change: ConfigChange,
): Promise<string | undefined> {
  const { values, secretKeys } = await driver.getAllConfig();
  const proposed: Record<string, string> = { ...values };
  for (const [key, value] of Object.entries(change)) {
    if (value === undefined) delete proposed[key];
    else proposed[key] = value;
  }
  try {
    parseConfig(proposed, secretKeys);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
}

/** `canary step N`: set canaryPercent to N and update; config.ts judges the result. */
export async function setCanaryPercent(
  driver: StackDriver,
  percent: number,
  options: CommandOptions = {},
): Promise<ChangeResult> {
  const change = { [CONFIG_KEYS.canaryPercent]: String(percent) };
  return withStackLock(driver.lock, describeChange(change), async () => {
    await options.beforeChange?.();
    // The percent it is already at, deployed (or only to be written): a full update would
    // change nothing, so none runs.
    if ((await readCanaryConfig(driver)).canaryPercent === percent) {
      const deployed = deployedFromOutputs(await driver.outputs());
      if (options.up === false || deployed?.canaryPercent === percent) {
        return {
          stack: driver.stackName,
          message:
            `canaryPercent is ${percent} already` +
            (options.up === false ? " in the stack file" : ", and deployed") +
            `: nothing changed`,
          change: {},
          previous: {},
          unchanged: true,
        };
      }
    }
    return applyConfigChangeLocked(driver, change, {
      ...options,
      message: `canary ${driver.stackName}: canaryPercent ${percent}`,
    });
  });
}

/**
 * `canary promote`: the candidate becomes the stable revision, the candidate is removed and
 * canaryPercent goes to 0, in one update. Refused without a candidate.
 */
export async function promoteCandidate(
  driver: StackDriver,
  options: CommandOptions = {},
): Promise<ChangeResult> {
  // The candidate is read under the lock too: another run must not change it in between.
  return withStackLock(driver.lock, "promote", async () => {
    await options.beforeChange?.();
    const config = await readCanaryConfig(driver);
    const candidate = config.candidateRevision;
    if (candidate === undefined) {
      throw new CanaryRefusedError(
        `nothing to promote: ${CONFIG_KEYS.candidateRevision} is not set in stack ${driver.stackName}`,
      );
    }
    return applyConfigChangeLocked(
      driver,
      {
        [CONFIG_KEYS.stableRevision]: candidate,
        [CONFIG_KEYS.candidateRevision]: undefined,
        [CONFIG_KEYS.canaryPercent]: "0",
      },
      { ...options, message: `canary ${driver.stackName}: promote ${candidate}, canaryPercent 0` },
    );
  });
}

/**
 * `canary start`: `revision` becomes the candidate at 0 %, in one update; the program's
 * candidate gate reads it at preview (it must exist). Refused while another candidate has
 * traffic (roll it back or promote it first), and for the stable revision itself. Starting the
 * candidate that is already set at 0 % and deployed changes nothing.
 */
export async function startCandidate(
  driver: StackDriver,
  revision: string,
  options: CommandOptions = {},
): Promise<ChangeResult> {
  const change = {
    [CONFIG_KEYS.candidateRevision]: revision,
    [CONFIG_KEYS.canaryPercent]: "0",
  };
  return withStackLock(driver.lock, describeChange(change), async () => {
    await options.beforeChange?.();
    const config = await readCanaryConfig(driver);
    const stack = driver.stackName;
    if (config.stableRevision === revision) {
      throw new CanaryRefusedError(
        `${revision} is stack ${stack}'s stable revision already; a candidate is a newer one`,
      );
    }
    if (config.candidateRevision === revision && config.canaryPercent === 0) {
      const deployed = deployedFromOutputs(await driver.outputs());
      if (
        options.up === false ||
        (deployed?.candidateRevision === revision && deployed.canaryPercent === 0)
      ) {
        return {
          stack,
          message: `${revision} is the candidate at 0 % already: nothing changed`,
          change: {},
          previous: {},
          unchanged: true,
        };
      }
    }
    if (
      config.candidateRevision !== undefined &&
      config.candidateRevision !== revision &&
      config.canaryPercent > 0
    ) {
      throw new CanaryRefusedError(
        `candidate ${config.candidateRevision} has ${config.canaryPercent} % of stack ${stack}'s ` +
          `traffic: finish that canary first, with \`canary rollback --stack ${stack}\` or ` +
          `\`canary promote --stack ${stack}\``,
      );
    }
    return applyConfigChangeLocked(driver, change, {
      ...options,
      message: `canary ${stack}: start ${revision}, canaryPercent 0`,
    });
  });
}

/** `canary rollback`: canaryPercent 0 in one update; the candidate stays, at 0 %. */
export async function rollbackCanary(
  driver: StackDriver,
  options: CommandOptions = {},
): Promise<ChangeResult> {
  return applyConfigChange(
    driver,
    { [CONFIG_KEYS.canaryPercent]: "0" },
    { ...options, message: `canary ${driver.stackName}: rollback, canaryPercent 0` },
  );
}

/** `canary status`: config and deployed state side by side; JSON-ready (null, not undefined). */
export interface CanaryStatus {
  readonly stack: string;
  readonly config: {
    readonly app: string;
    readonly stableRevision: string | null;
    readonly candidateRevision: string | null;
    readonly canaryPercent: number;
    readonly namespace: string;
    readonly maxStepPercent: number | null;
  };
  /** From the last successful update's outputs; null when the stack was never updated. */
  readonly deployed: {
    readonly stableRevision: string | null;
    readonly candidateRevision: string | null;
    readonly canaryPercent: number | null;
  } | null;
  /** Config differences not deployed yet, e.g. `canaryPercent: config 30, deployed 20`. */
  readonly pending: readonly string[];
  readonly candidateSmokeTest: unknown;
  readonly url: unknown;
  readonly urls: unknown;
  readonly traffic: unknown;
  readonly pipelineName: unknown;
  readonly webhookUrl: unknown;
}

export async function readStatus(driver: StackDriver): Promise<CanaryStatus> {
  const config = await readCanaryConfig(driver);
  const outputs = await driver.outputs();
  const deployed = deployedFromOutputs(outputs);
  const output = (name: string): unknown => outputs[name] ?? null;
  return {
    stack: driver.stackName,
    config: {
      app: config.app,
      stableRevision: config.stableRevision ?? null,
      candidateRevision: config.candidateRevision ?? null,
      canaryPercent: config.canaryPercent,
      namespace: config.namespace,
      maxStepPercent: config.maxStepPercent ?? null,
    },
    deployed:
      deployed === undefined
        ? null
        : {
            stableRevision: deployed.stableRevision ?? null,
            candidateRevision: deployed.candidateRevision ?? null,
            canaryPercent: deployed.canaryPercent ?? null,
          },
    pending: deployed === undefined ? [] : configDrift(config, deployed),
    candidateSmokeTest: output("candidateSmokeTest"),
    url: output("url"),
    urls: output("urls"),
    traffic: output("traffic"),
    pipelineName: output("pipelineName"),
    webhookUrl: output("webhookUrl"),
  };
}
