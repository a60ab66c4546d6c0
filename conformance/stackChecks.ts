// What `npm run validate` judges of a stack beyond its custom resources: the traffic it would
// deploy, the step guard against the stack's last outputs, and what it could not check. Mocks
// answer every read the program makes, so without this list a run that assumed the candidate
// Ready, or never saw the last deployment, said `passed` for checks it never made. Pure.
import type { CanaryConfig, ConfigProblem } from "../config";
import { judgeStep, targetName } from "../common/stepGuard";
import type { TrafficTarget } from "../common/traffic";
import { candidateGateMode, stableGateMode } from "../components/route/revisionGate";
import type { RecordedResource } from "./programRunner";

/** A check validate did not make, and why; listed instead of counting as passed. */
export interface NotChecked {
  readonly what: string;
  readonly why: string;
}

/** The last outputs of a stack (`pulumi stack output --json`), or why there are none. */
export type OutputsRead =
  | { readonly outputs: Readonly<Record<string, unknown>>; readonly from: string }
  | { readonly unavailable: string };

export type StepGuardResult =
  /** maxStepPercent is 100: the program has no guard to evaluate. */
  | { readonly status: "off"; readonly detail: string }
  | { readonly status: "passed"; readonly detail: string; readonly warning?: string }
  | { readonly status: "failed"; readonly detail: string }
  | { readonly status: "not checked"; readonly detail: string; readonly item: NotChecked };

const ROUTE_TYPE = "kubernetes:serving.knative.dev/v1:Route";
const MAX_STEP_KEY = "canary-release:maxStepPercent";

/** The `spec.traffic` of the Route the program registered; undefined when it registered none. */
export function routeTrafficOf(
  resources: readonly RecordedResource[],
): TrafficTarget[] | undefined {
  const route = resources.find((r) => r.type === ROUTE_TYPE && r.readId === undefined);
  const spec = route?.inputs.spec as { traffic?: unknown } | undefined;
  return Array.isArray(spec?.traffic) ? (spec.traffic as TrafficTarget[]) : undefined;
}

/** One line per target: what gets the traffic, its share, its tag. */
export function describeTraffic(table: readonly TrafficTarget[]): string[] {
  const names = table.map((target) => targetName(target));
  const width = Math.max(...names.map((name) => name.length));
  return table.map((target, i) => {
    const percent = `${target.percent ?? 0} %`.padStart(5);
    const tag = target.tag !== undefined ? `  tag ${target.tag}` : "";
    return `${names[i].padEnd(width)}  ${percent}${tag}`;
  });
}

/**
 * The step guard as `pulumi preview` applies it (index.ts: only below 100, against the stack's
 * own `traffic` output), on the table the Route would get. Without the outputs it is not
 * checked, and says why, rather than passing as it does under mocks (a never-deployed stack).
 */
export function judgeStepGuard(
  stack: string,
  settings: Pick<CanaryConfig, "maxStepPercent" | "allowLargeStep">,
  next: readonly TrafficTarget[] | undefined,
  outputs: OutputsRead,
): StepGuardResult {
  const guard = `step guard (${MAX_STEP_KEY} = ${settings.maxStepPercent})`;
  if (settings.maxStepPercent >= 100) {
    return {
      status: "off",
      detail: `step guard off: ${MAX_STEP_KEY} is 100, so any step is allowed`,
    };
  }
  const notChecked = (why: string): StepGuardResult => ({
    status: "not checked",
    detail: `${guard}: not checked, ${why}`,
    item: { what: guard, why },
  });
  if (next === undefined) return notChecked("the program registered no Route");
  if ("unavailable" in outputs) {
    return notChecked(`no outputs of stack ${stack} (${outputs.unavailable})`);
  }
  const deployed = outputs.outputs.traffic;
  const verdict = judgeStep(deployed, next, settings);
  if (verdict.refusal !== undefined) {
    return { status: "failed", detail: `${guard}, against ${outputs.from}: ${verdict.refusal}` };
  }
  const detail =
    deployed === undefined || deployed === null
      ? `${guard}: ${outputs.from} has no \`traffic\` output (never deployed), so any first ` +
        `step is allowed`
      : `${guard}: no revision gains more than ${settings.maxStepPercent} points over ` +
        `${outputs.from}`;
  return {
    status: "passed",
    detail,
    ...(verdict.warning !== undefined ? { warning: verdict.warning } : {}),
  };
}

const ASSUMED =
  "validate reads no cluster; it assumed the revision is there and passed. `pulumi preview` " +
  "of the stack checks it against the stack's cluster";
const RENDER =
  "render mode has no cluster to read it from; the program skips it with a warning. Check it " +
  "before applying the rendered manifests";

/**
 * The revision reads of the candidate and stable gates (components/route/revisionGate.ts, as
 * index.ts decides them), which validate's mocks answer with a Ready, tested revision.
 */
export function revisionReadsNotChecked(config: Readonly<CanaryConfig>): NotChecked[] {
  const renderOnly = config.render !== undefined;
  const items: NotChecked[] = [];
  const where = (revision: string): string => `${config.namespace}/${revision}`;
  const candidate = candidateGateMode({
    hasCandidate: config.candidateRevision !== undefined,
    verifyCandidate: config.verifyCandidate,
    canaryPercent: config.canaryPercent,
    renderOnly,
    testerEnabled: config.tester.enabled,
    allowUntestedCandidate: config.allowUntestedCandidate,
  });
  const candidateName = `candidate gate (canary-release:verifyCandidate): candidate revision`;
  if (candidate.gate !== undefined && config.candidateRevision !== undefined) {
    const needs = [
      "exists",
      ...(candidate.gate.requireReady ? ["is Ready"] : []),
      ...(candidate.gate.requireSmokeTest ? ["passed its smoke test"] : []),
    ];
    items.push({
      what: `${candidateName} ${where(config.candidateRevision)} ${joinAnd(needs)}`,
      why: ASSUMED,
    });
  } else if (candidate.warning !== undefined && config.candidateRevision !== undefined) {
    items.push({ what: `${candidateName} ${where(config.candidateRevision)}`, why: RENDER });
  }
  const stable = stableGateMode({
    hasStable: config.stableRevision !== undefined,
    verifyCandidate: config.verifyCandidate,
    renderOnly,
  });
  const stableName = `stable revision read (canary-release:verifyCandidate): stable revision`;
  if (config.stableRevision !== undefined) {
    if (stable.read) {
      items.push({ what: `${stableName} ${where(config.stableRevision)} is Ready`, why: ASSUMED });
    } else if (stable.warning !== undefined) {
      items.push({ what: `${stableName} ${where(config.stableRevision)}`, why: RENDER });
    }
  }
  return items;
}

/**
 * Credentials the stack file lacks (they are set per machine) and that `pulumi up` would
 * require: validate ran with stand-ins, so it cannot say the stack is ready to deploy. `problems`
 * are those of the config without the stand-ins; `standIns` the keys that got one.
 */
export function missingSecretsNotChecked(
  stackFile: string,
  problems: readonly ConfigProblem[],
  standIns: readonly string[],
): NotChecked[] {
  return problems
    .filter((problem) => standIns.includes(problem.key))
    .map((problem) => ({
      what: `${problem.key}: not set in ${stackFile}`,
      why: `validate used a stand-in value; \`pulumi up\` refuses without it: ${problem.message}`,
    }));
}

function joinAnd(parts: readonly string[]): string {
  return parts.length <= 1
    ? parts.join("")
    : `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}`;
}
