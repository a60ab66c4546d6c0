// The step-size guard: how much one update may add to any revision's share of traffic.
//
// A canary step is reviewed as a diff of stack config, but a reviewer sees the new value, not
// how far it moves traffic: `canaryPercent 5 -> 60`, a new candidate that starts at 40 %, or a
// promote while the candidate had 20 % all look like one-line changes. The guard compares the
// Route table this update would apply with the one this stack last deployed (its own `traffic`
// output) and refuses any revision whose share grows by more than `maxStepPercent`.
//
// Pure module: no Pulumi, no I/O.
import { TAG_STABLE, TrafficTarget } from "./traffic";

export interface StepGuardSettings {
  /** The most percentage points one update may add to a revision's share, 1..100. */
  readonly maxStepPercent: number;
  /** Let this update through anyway (with a warning). */
  readonly allowLargeStep: boolean;
}

/** A revision (or the Configuration's latest one) whose share grows too much in one update. */
export interface LargeStep {
  /** `hello-5d6e7f8`, or `the latest revision of hello` for a `latestRevision` target. */
  readonly target: string;
  readonly before: number;
  readonly after: number;
}

export interface StepVerdict {
  /** Why the update is refused; undefined when it may go ahead. */
  readonly refusal?: string;
  /** Printed with the preview: the override was used, or the last deployment was unreadable. */
  readonly warning?: string;
  readonly largeSteps: readonly LargeStep[];
}

const MAX_STEP_KEY = "canary-release:maxStepPercent";
const OVERRIDE_KEY = "canary-release:allowLargeStep";

/** The name a target is tracked by across updates: its revision, whatever its tag. */
export function targetName(target: TrafficTarget): string {
  if (target.revisionName !== undefined) return target.revisionName;
  return `the latest revision of ${target.configurationName ?? "the Configuration"}`;
}

/** Each target's share of the traffic; a revision listed twice counts once with both shares. */
export function sharesOf(table: readonly TrafficTarget[]): Map<string, number> {
  const shares = new Map<string, number>();
  for (const target of table) {
    const name = targetName(target);
    shares.set(name, (shares.get(name) ?? 0) + (target.percent ?? 0));
  }
  return shares;
}

/**
 * The shares that grow by more than `maxStepPercent`. Traffic returning to the revision that
 * was stable before (a rollback, or a candidate's share shrinking) is never a large step: the
 * guard limits exposure of what is new, and never stands in the way of backing out.
 */
export function largeStepsBetween(
  deployed: readonly TrafficTarget[],
  next: readonly TrafficTarget[],
  maxStepPercent: number,
): LargeStep[] {
  const before = sharesOf(deployed);
  const previouslyStable = new Set(
    deployed.filter((t) => t.tag === TAG_STABLE).map((t) => targetName(t)),
  );
  const steps: LargeStep[] = [];
  for (const [target, after] of sharesOf(next)) {
    const was = before.get(target) ?? 0;
    if (after - was > maxStepPercent && !previouslyStable.has(target)) {
      steps.push({ target, before: was, after });
    }
  }
  return steps;
}

/**
 * The last deployed traffic table from the stack output `traffic`: undefined when the stack
 * has none (its first deployment), a problem when it is there but not a traffic table.
 */
export function readDeployedTraffic(output: unknown): {
  table?: TrafficTarget[];
  problem?: string;
} {
  if (output === undefined || output === null) return {};
  const isTarget = (value: unknown): value is TrafficTarget => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
    const target = value as Record<string, unknown>;
    const named =
      typeof target.revisionName === "string" || typeof target.configurationName === "string";
    const percent = target.percent === undefined || typeof target.percent === "number";
    return named && percent;
  };
  if (Array.isArray(output) && output.every(isTarget)) return { table: output };
  return {
    problem:
      `the stack output \`traffic\` of the last deployment is not a traffic table ` +
      `(${JSON.stringify(output).slice(0, 120)})`,
  };
}

/** The guard's decision for one update. */
export function judgeStep(
  deployedOutput: unknown,
  next: readonly TrafficTarget[],
  settings: StepGuardSettings,
): StepVerdict {
  const deployed = readDeployedTraffic(deployedOutput);
  const override = `\`pulumi config set ${OVERRIDE_KEY} true\``;
  if (deployed.problem !== undefined) {
    const reason = `${deployed.problem}, so the size of this step cannot be checked`;
    return settings.allowLargeStep
      ? { warning: `${reason}; ${OVERRIDE_KEY} is true, so it goes ahead.`, largeSteps: [] }
      : {
          refusal: `${reason}. To apply it anyway, set ${override} for this update.`,
          largeSteps: [],
        };
  }
  if (deployed.table === undefined) return { largeSteps: [] };

  const largeSteps = largeStepsBetween(deployed.table, next, settings.maxStepPercent);
  if (largeSteps.length === 0) return { largeSteps };
  const described = largeSteps.map((step) => describe(step, settings.maxStepPercent)).join("; ");
  if (settings.allowLargeStep) {
    return {
      largeSteps,
      warning:
        `${described}. ${OVERRIDE_KEY} is true, so this step goes ahead; remove it afterwards ` +
        `(\`pulumi config rm ${OVERRIDE_KEY}\`) so the next step is checked again.`,
    };
  }
  const pinsLatest = deployed.table.some((t) => t.latestRevision === true && (t.percent ?? 0) > 0);
  return {
    largeSteps,
    refusal:
      `${described}. Move in smaller steps (with ${MAX_STEP_KEY} = ${settings.maxStepPercent}: ` +
      `${suggestedSteps(largeSteps[0], settings.maxStepPercent)}), or, to make this step on ` +
      `purpose, set ${override} for this update.` +
      (pinsLatest
        ? " The last deployment sent traffic to the Configuration's latest revision: if the " +
          "revision named here is that one, this update only pins it, and the override is safe."
        : ""),
  };
}

function describe(step: LargeStep, maxStepPercent: number): string {
  return (
    `${step.target} would go from ${step.before} % to ${step.after} % of the traffic ` +
    `(+${step.after - step.before}), more than ${MAX_STEP_KEY} = ${maxStepPercent} allows ` +
    `in one update`
  );
}

/** The shares to go through on the way, each at most maxStepPercent above the one before. */
function suggestedSteps(step: LargeStep, maxStepPercent: number): string {
  const shares: number[] = [];
  for (let share = step.before + maxStepPercent; share < step.after; share += maxStepPercent) {
    shares.push(share);
  }
  return `${[step.before, ...shares, step.after].map((s) => `${s} %`).join(" -> ")}`;
}
