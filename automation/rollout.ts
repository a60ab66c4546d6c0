// A metric-gated rollout: raise canaryPercent step by step, let each step run for an interval,
// ask the analysis for a verdict, go on, hold, or roll back. Pure logic over a StackDriver, an
// injected analysis, sleep and clock, so every path is tested without Pulumi, Prometheus or time.
import { largeStepsBetween } from "../common/stepGuard";
import { trafficFor } from "../common/traffic";
import { DEFAULTS, parseWholeNumber, WHOLE_NUMBER_KEYS, wholeNumberRule } from "../config";
import { impossibleValues, type AnalysisResult } from "./analysisTypes";
import { CanaryRefusedError, errorMessage, exitCodeOf } from "./errors";
import { EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_ROLLED_BACK } from "./exitCodes";
import {
  applyConfigChange,
  configDrift,
  deployedFromOutputs,
  proposalProblems,
  readCanaryConfig,
  type CanaryConfigView,
  type ChangeResult,
} from "./operations";
import { CONFIG_KEYS, type StackDriver, type UpSummary } from "./stackDriver";
import type { Sleep } from "./time";

/** Default of `--max-inconclusive`: inconclusive verdicts tolerated at one step. */
export const DEFAULT_MAX_INCONCLUSIVE = 3;

/**
 * Problems of the steps on their own, before any stack is read: each a canaryPercent config.ts
 * accepts (its rule, WHOLE_NUMBER_KEYS), strictly increasing. Empty when the steps are fine.
 */
export function stepsProblems(steps: readonly number[]): string[] {
  if (steps.length === 0) return ["give at least one step, e.g. --steps 5,20,50"];
  const { min, max } = WHOLE_NUMBER_KEYS.canaryPercent;
  const problems: string[] = [];
  steps.forEach((step, i) => {
    if (parseWholeNumber(String(step), min, max) === undefined) {
      problems.push(`step ${step}: canaryPercent ${wholeNumberRule(min, max)}`);
    } else if (i > 0 && step <= steps[i - 1]) {
      problems.push(`steps must strictly increase: ${steps[i - 1]} then ${step}`);
    }
  });
  return problems;
}

/** The stack's side of a plan: where it starts, and the largest increase one update may make. */
export interface PlanStart {
  readonly app: string;
  readonly canaryPercent: number;
  readonly stableRevision?: string;
  readonly candidateRevision?: string;
  readonly maxStepPercent?: number;
}

/**
 * Every reason the rollout itself refuses a plan against the stack it would run on (config.ts
 * judges each step's config as well: see runRollout). Rules:
 * - the steps themselves (stepsProblems);
 * - the first step must be above the current canaryPercent (a rollout only raises traffic;
 *   to lower it use `canary step` or `canary rollback`; to resume, start above where it is);
 * - with `maxStepPercent` set, no step may be a large step as the Route's step guard judges it
 *   (common/stepGuard.ts), the one from the current percent to the first step included.
 *   (`allowLargeStep` is not honoured here: an unattended rollout does not take the large steps
 *   that a person may choose to take with `canary step`.)
 */
export function planProblems(steps: readonly number[], start: PlanStart): string[] {
  const problems = stepsProblems(steps);
  if (steps.length > 0 && steps[0] <= start.canaryPercent) {
    problems.push(
      `the first step (${steps[0]}) must be above the current canaryPercent ` +
        `(${start.canaryPercent}); start the steps above it`,
    );
  }
  const { app, stableRevision, candidateRevision } = start;
  // Unset in the stack file: the program's default, which the step guard applies too.
  const maxStepPercent = start.maxStepPercent ?? DEFAULTS.maxStepPercent;
  // Without a candidate (or a stable revision beside it) config.ts refuses every step anyway.
  if (candidateRevision !== undefined && stableRevision !== undefined) {
    const table = (canaryPercent: number) =>
      trafficFor({ app, stableRevision, candidateRevision, canaryPercent });
    let from = start.canaryPercent;
    for (const step of problems.length === 0 ? steps : []) {
      for (const large of largeStepsBetween(table(from), table(step), maxStepPercent)) {
        problems.push(
          `${from} -> ${step} raises the share of ${large.target} by ${large.after - large.before} ` +
            `percentage points, more than ${CONFIG_KEYS.maxStepPercent} = ${maxStepPercent}: add steps in between`,
        );
      }
      from = step;
    }
  }
  return problems;
}

/** What the analysis is asked about: one look at one step. */
export interface AnalysisRequest {
  /** canaryPercent deployed while the metrics were collected. */
  readonly percent: number;
  /** 0-based index of the step in the plan, and the plan's length. */
  readonly stepIndex: number;
  readonly stepCount: number;
  /** 1 for the first analysis of the step, then 2, 3... after inconclusive verdicts. */
  readonly attempt: number;
  readonly namespace: string;
  /** The candidate revision, from canary-release:candidateRevision. */
  readonly revision: string;
  /** The stable revision it is compared with, from canary-release:stableRevision. */
  readonly stable: string;
  /** Evaluation time, from the injected clock. */
  readonly at: Date;
  /**
   * When this step's update completed: the traffic since then is all at this percent, so an
   * analysis holding after an inconclusive one may look back that far for more evidence.
   */
  readonly stepStartedAt: Date;
}

/** What the analysis will be asked about, for its preflight. */
export interface AnalysisTarget {
  readonly namespace: string;
  readonly candidate: string;
  readonly stable: string;
  /** The time of the check, from the injected clock. */
  readonly at: Date;
}

export type RolloutEvent =
  | {
      readonly type: "plan";
      readonly candidate: string;
      readonly from: number;
      readonly steps: readonly number[];
    }
  | {
      readonly type: "step";
      readonly stepIndex: number;
      readonly stepCount: number;
      readonly percent: number;
    }
  | { readonly type: "deployed"; readonly percent: number; readonly summary?: UpSummary }
  | {
      readonly type: "wait";
      readonly percent: number;
      readonly ms: number;
      readonly until: Date;
      /** `settle`: metrics of a new step; `hold`: again after an inconclusive verdict. */
      readonly reason: "settle" | "hold";
    }
  | {
      readonly type: "analysis";
      readonly percent: number;
      readonly attempt: number;
      readonly result: AnalysisResult;
    }
  | { readonly type: "rollback"; readonly percent: number; readonly reason: string }
  | { readonly type: "rolledBack" }
  | { readonly type: "promote"; readonly candidate: string }
  | { readonly type: "promoted"; readonly stable: string };

export interface RolloutOptions {
  /** canaryPercent of each step, strictly increasing, 1..100. */
  readonly steps: readonly number[];
  /** How long each step runs before its analysis, and between analyses while holding. */
  readonly intervalMs: number;
  /** Inconclusive verdicts tolerated at one step; one more rolls back (fail safe). */
  readonly maxInconclusive?: number;
  /** After the last step passed, promote the candidate (one more update). */
  readonly promote?: boolean;
  readonly analyse: (request: AnalysisRequest) => Promise<AnalysisResult>;
  /**
   * Checks, once and before anything changes, that the analysis can be made for this candidate
   * and stable revision (e.g. preflightCanary: Prometheus answers, the queries are valid, the
   * stable revision has series); throwing refuses the rollout. Without it, a mistyped Prometheus
   * URL would only show after the first step went live, as inconclusive analyses.
   */
  readonly preflight?: (target: AnalysisTarget) => Promise<void>;
  readonly sleep: Sleep;
  readonly now?: () => Date;
  /** Aborting stops the rollout between two actions; nothing is rolled back. */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: RolloutEvent) => void;
  /** Pulumi's output of each update. */
  readonly onOutput?: (text: string) => void;
}

export interface AnalysisRecord {
  readonly percent: number;
  readonly attempt: number;
  readonly at: string;
  readonly result: AnalysisResult;
}

export type RolloutStatus =
  /** Every step passed (and the candidate was promoted, with `promote`). */
  | "completed"
  /** The analysis failed, or stayed inconclusive: canaryPercent is back at 0. */
  | "rolled-back"
  /** Stopped by the abort signal between two actions; `stoppedAt` says where. */
  | "interrupted"
  /** An update failed (the rollback's included): `error` has Pulumi's message. */
  | "failed";

export interface RolloutReport {
  readonly status: RolloutStatus;
  readonly stack: string;
  readonly candidate: string;
  /** The revision the candidate was compared with. */
  readonly stable: string;
  readonly steps: readonly number[];
  readonly startPercent: number;
  /** canaryPercent of the last successful update: what the stack config says at the end. */
  readonly deployedPercent: number;
  readonly promoted: boolean;
  readonly analyses: readonly AnalysisRecord[];
  /** Why it rolled back, or where it stopped, or what failed. */
  readonly reason?: string;
  readonly error?: string;
  /**
   * With `failed`: the exit code of the error, when it has its own (4: the stack's lock was held
   * too long, 5: the outputs differ from what was set, 6: another command changed the stack
   * meanwhile); else 1.
   */
  readonly failureExitCode?: number;
  /** Messages of the updates made, in order. */
  readonly updates: readonly string[];
}

export function rolloutExitCode(report: RolloutReport): number {
  switch (report.status) {
    case "completed":
      return EXIT_OK;
    case "rolled-back":
      return EXIT_ROLLED_BACK;
    case "interrupted":
      return EXIT_INTERRUPTED;
    case "failed":
      return report.failureExitCode ?? EXIT_ERROR;
  }
}

/**
 * Runs a rollout. The plan is checked against the stack before anything changes (refused with a
 * CanaryRefusedError). Then for each step: set canaryPercent, `pulumi up`, wait the interval,
 * analyse: `pass` goes on, `fail` rolls back (canaryPercent 0, one update), `inconclusive`
 * holds for another interval, up to `maxInconclusive` times, then rolls back.
 *
 * "Deployed" is the canaryPercent of the last successful update (at the start: the stack's,
 * which must match its outputs). The stack config ends equal to it whatever happens: a failed
 * update writes the previous value back (see applyConfigChange), an abort stops between actions,
 * never between a config write and its update.
 */
export async function runRollout(
  driver: StackDriver,
  options: RolloutOptions,
): Promise<RolloutReport> {
  const now = options.now ?? (() => new Date());
  const emit = (event: RolloutEvent): void => options.onEvent?.(event);
  const maxInconclusive = options.maxInconclusive ?? DEFAULT_MAX_INCONCLUSIVE;
  if (!Number.isInteger(maxInconclusive) || maxInconclusive < 0) {
    throw new CanaryRefusedError(
      `maxInconclusive ${maxInconclusive}: must be a whole number, 0 or more`,
    );
  }
  if (!(options.intervalMs > 0)) {
    throw new CanaryRefusedError(`interval ${options.intervalMs} ms: must be more than 0`);
  }

  const config = await readCanaryConfig(driver);
  await refuseUndeployedConfig(driver, config);
  const problems = planProblems(options.steps, config);
  if (problems.length > 0) {
    throw new CanaryRefusedError(
      `rollout plan ${options.steps.join(",")} for stack ${driver.stackName}:\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
  }
  // The steps only differ in canaryPercent: what config.ts accepts at the last, largest one it
  // accepts at each (a candidate beside a stable revision, the percent's range, the rest).
  const last = options.steps[options.steps.length - 1];
  const refused = await proposalProblems(driver, { [CONFIG_KEYS.canaryPercent]: String(last) });
  if (refused !== undefined) {
    throw new CanaryRefusedError(
      `rollout plan ${options.steps.join(",")} for stack ${driver.stackName}: the stack's ` +
        `program would refuse canaryPercent ${last}:\n${refused}`,
    );
  }
  // config.ts accepts canary traffic only with a candidate beside a stable revision.
  const candidate = config.candidateRevision as string;
  const stable = config.stableRevision;
  if (stable === undefined) {
    throw new CanaryRefusedError(
      `stack ${driver.stackName} has no ${CONFIG_KEYS.stableRevision}: the candidate is judged against it`,
    );
  }
  try {
    await options.preflight?.({ namespace: config.namespace, candidate, stable, at: now() });
  } catch (error) {
    throw new CanaryRefusedError(
      `the analysis cannot run, so no traffic was moved: ${errorMessage(error)}`,
    );
  }
  const steps = [...options.steps];

  let deployedPercent = config.canaryPercent;
  let promoted = false;
  const analyses: AnalysisRecord[] = [];
  const updates: string[] = [];
  const report = (
    status: RolloutStatus,
    extra: { reason?: string; error?: string; failureExitCode?: number } = {},
  ): RolloutReport => ({
    status,
    stack: driver.stackName,
    candidate,
    stable,
    steps,
    startPercent: config.canaryPercent,
    deployedPercent,
    promoted,
    analyses,
    updates,
    ...extra,
  });
  const aborted = (): boolean => options.signal?.aborted === true;
  const interrupted = (where: string): RolloutReport =>
    report("interrupted", {
      reason: `interrupted ${where}; canaryPercent ${deployedPercent} is deployed and left as is`,
    });
  /**
   * One update, written only while the stack still holds what this rollout last left (checked
   * under the lock): a rollback, a new candidate or a step by hand made while the rollout waited
   * stops it (StackChangedError), never gets written over.
   */
  const update = async (
    change: Record<string, string | undefined>,
    message: string,
    expect: Record<string, string | undefined> = {
      [CONFIG_KEYS.candidateRevision]: candidate,
      [CONFIG_KEYS.canaryPercent]: String(deployedPercent),
    },
  ) => {
    const result: ChangeResult = await applyConfigChange(driver, change, {
      message,
      expect,
      ...(options.onOutput !== undefined ? { onOutput: options.onOutput } : {}),
    });
    updates.push(message);
    return result;
  };

  /** Rolls back to 0 %; a failed rollback is reported as a failure, the louder outcome. */
  const rollBack = async (percent: number, reason: string): Promise<RolloutReport> => {
    emit({ type: "rollback", percent, reason });
    try {
      // Backing out of the same candidate is right whatever its percent now; another
      // candidate's traffic is not this rollout's to cut.
      await update(
        { [CONFIG_KEYS.canaryPercent]: "0" },
        `canary ${driver.stackName}: rollback at ${percent}, canaryPercent 0`,
        { [CONFIG_KEYS.candidateRevision]: candidate },
      );
    } catch (error) {
      return report("failed", {
        reason: `rolling back failed after: ${reason}`,
        error:
          `ROLLBACK FAILED: ${candidate} may still receive ${deployedPercent} % of the traffic. ` +
          `Roll back by hand (\`canary rollback --stack ${driver.stackName}\`).\n` +
          errorMessage(error),
        ...failureCode(error),
      });
    }
    deployedPercent = 0;
    emit({ type: "rolledBack" });
    return report("rolled-back", { reason });
  };

  emit({ type: "plan", candidate, from: config.canaryPercent, steps });
  for (const [stepIndex, percent] of steps.entries()) {
    const where = `step ${stepIndex + 1}/${steps.length}`;
    if (aborted()) return interrupted(`before ${where} (canaryPercent ${percent})`);
    emit({ type: "step", stepIndex, stepCount: steps.length, percent });
    let summary: UpSummary | undefined;
    try {
      summary = (
        await update(
          { [CONFIG_KEYS.canaryPercent]: String(percent) },
          `canary ${driver.stackName}: canaryPercent ${percent}`,
        )
      ).summary;
    } catch (error) {
      // Ctrl-C reaches the Pulumi CLI too, which cancels the update: that is the interruption
      // the person asked for, reported as such, with Pulumi's message.
      if (aborted()) {
        return report("interrupted", {
          reason:
            `interrupted during the update to canaryPercent ${percent} (${where}), which did ` +
            `not complete; the config says canaryPercent ${deployedPercent} again (the last ` +
            `successful update)`,
          error: errorMessage(error),
        });
      }
      return report("failed", {
        reason: `the update to canaryPercent ${percent} (${where}) failed`,
        error: errorMessage(error),
        ...failureCode(error),
      });
    }
    deployedPercent = percent;
    const stepStartedAt = now();
    emit({ type: "deployed", percent, ...(summary !== undefined ? { summary } : {}) });

    for (let attempt = 1; ; attempt++) {
      const waitMs = options.intervalMs;
      if (aborted()) return interrupted(`before waiting at ${where}`);
      emit({
        type: "wait",
        percent,
        ms: waitMs,
        until: new Date(now().getTime() + waitMs),
        reason: attempt === 1 ? "settle" : "hold",
      });
      await options.sleep(waitMs, options.signal);
      if (aborted()) return interrupted(`while waiting at ${where}, before its analysis`);

      const at = now();
      let result: AnalysisResult;
      try {
        result = await options.analyse({
          percent,
          stepIndex,
          stepCount: steps.length,
          attempt,
          namespace: config.namespace,
          revision: candidate,
          stable,
          at,
          stepStartedAt,
        });
      } catch (error) {
        // A broken analysis proves nothing either way: hold like inconclusive, then fail safe.
        result = { verdict: "inconclusive", reason: `analysis error: ${errorMessage(error)}` };
      }
      if (!["pass", "fail", "inconclusive"].includes(result?.verdict)) {
        result = {
          verdict: "inconclusive",
          reason: `analysis error: no verdict in ${JSON.stringify(result)}`,
        };
      }
      // Numbers that cannot be real prove nothing either way, whichever analysis gave them.
      const impossible = result.verdict === "inconclusive" ? [] : impossibleValues(result);
      if (impossible.length > 0) {
        result = {
          ...result,
          verdict: "inconclusive",
          reason: `analysis error: ${result.verdict} on values that cannot be real: ${impossible.join(", ")}; ${result.reason}`,
        };
      }
      analyses.push({ percent, attempt, at: at.toISOString(), result });
      emit({ type: "analysis", percent, attempt, result });

      if (result.verdict === "pass") break;
      if (result.verdict === "fail") {
        return rollBack(percent, `analysis failed at ${percent} %: ${result.reason}`);
      }
      if (attempt > maxInconclusive) {
        return rollBack(
          percent,
          `analysis still inconclusive at ${percent} % after ${attempt} attempts ` +
            `(--max-inconclusive ${maxInconclusive}): ${result.reason}`,
        );
      }
      if (aborted()) return interrupted(`at ${where}, holding after an inconclusive analysis`);
    }
  }

  if (options.promote === true) {
    if (aborted()) return interrupted("after the last step, before promoting");
    emit({ type: "promote", candidate });
    try {
      await update(
        {
          [CONFIG_KEYS.stableRevision]: candidate,
          [CONFIG_KEYS.candidateRevision]: undefined,
          [CONFIG_KEYS.canaryPercent]: "0",
        },
        `canary ${driver.stackName}: promote ${candidate}, canaryPercent 0`,
      );
    } catch (error) {
      return report("failed", {
        reason: `every step passed, but promoting ${candidate} failed`,
        error: errorMessage(error),
        ...failureCode(error),
      });
    }
    promoted = true;
    deployedPercent = 0;
    emit({ type: "promoted", stable: candidate });
  }
  return report("completed");
}

/** The failure's own exit code for the report, when it has one other than EXIT_ERROR. */
function failureCode(error: unknown): { failureExitCode?: number } {
  const code = exitCodeOf(error);
  return code !== undefined && code !== EXIT_ERROR ? { failureExitCode: code } : {};
}

/**
 * A rollout starts from a deployed state: if the config holds changes no update applied, the
 * "last deployed value" it would restore on failure would be a guess, and the first increase
 * would be measured from the wrong place.
 */
async function refuseUndeployedConfig(
  driver: StackDriver,
  config: CanaryConfigView,
): Promise<void> {
  const deployed = deployedFromOutputs(await driver.outputs());
  if (deployed === undefined) return;
  const drift = configDrift(config, deployed);
  if (drift.length > 0) {
    throw new CanaryRefusedError(
      `Pulumi.${driver.stackName}.yaml differs from what the last update deployed:\n` +
        drift.map((d) => `  - ${d}`).join("\n") +
        `\nDeploy it first (\`pulumi up\`, or \`canary step\`), then start the rollout.`,
    );
  }
}
