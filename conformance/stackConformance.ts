// Validates every custom resource the program registers against the CRDs of a cluster (or of
// the upstream releases in ../shared/crds) and against the upstream admission rules no schema
// carries (upstreamRules.ts). Used by the tests and by `npm run validate`.
import * as path from "path";
import { ConfigError, parseConfig, type CanaryConfig, type ConfigProblem } from "../config";
import type { TrafficTarget } from "../common/traffic";
import { CrdCatalog, Manifest, SchemaViolation } from "./crdValidator";
import { upstreamRuleViolations } from "./upstreamRules";
import {
  everyRevisionPassed,
  loadStackConfig,
  PROJECT_ROOT,
  RecordedResource,
  runProgram,
  stackFiles,
  withStandInSecrets,
} from "./programRunner";
import {
  judgeStepGuard,
  missingSecretsNotChecked,
  NotChecked,
  OutputsRead,
  revisionReadsNotChecked,
  routeTrafficOf,
  StepGuardResult,
} from "./stackChecks";

/** The upstream CRDs beside the project (CI lays ../shared next to the checkout). */
export const DEFAULT_CRDS_DIR = path.resolve(PROJECT_ROOT, "..", "shared", "crds");

/** `CANARY_CRDS_DIR` when set, else the upstream CRDs beside the project. */
export function crdsDirectory(env: { CANARY_CRDS_DIR?: string } = process.env): string {
  return env.CANARY_CRDS_DIR ?? DEFAULT_CRDS_DIR;
}

/**
 * API groups served by Kubernetes itself: their kinds have no CRD. Every other group is a
 * custom resource and must be found in the catalog.
 */
const BUILT_IN_GROUPS = new Set(["core", "apps", "batch", "policy", "autoscaling"]);

function groupOf(apiVersion: string): string {
  return apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "core";
}

/** A Kubernetes object the program creates (not a read) whose kind comes from a CRD. */
export function isCustomResource(resource: RecordedResource): boolean {
  if (resource.readId !== undefined || !resource.custom) return false;
  const apiVersion = resource.inputs.apiVersion;
  if (typeof apiVersion !== "string" || typeof resource.inputs.kind !== "string") return false;
  const group = groupOf(apiVersion);
  return !BUILT_IN_GROUPS.has(group) && !group.endsWith(".k8s.io");
}

export interface ResourceReport {
  readonly urn: string;
  /** `apiVersion Kind namespace/name`, as people look it up with kubectl. */
  readonly resource: string;
  readonly violations: readonly SchemaViolation[];
}

/**
 * Each custom resource against its CRD's schema, and against the upstream admission rules no
 * schema carries (upstreamRules.ts). Without a catalog (`validate --config-only`) only the
 * rules, which need no CRD.
 */
export function checkResources(
  catalog: CrdCatalog | undefined,
  resources: readonly RecordedResource[],
): ResourceReport[] {
  const custom = resources.filter(isCustomResource);
  const ruleViolations = upstreamRuleViolations(custom.map((r) => r.inputs as Manifest));
  const reports = custom.map((resource) => {
    const manifest = resource.inputs as Manifest;
    const metadata = (manifest.metadata ?? {}) as { name?: string; namespace?: string };
    const where = [metadata.namespace, metadata.name].filter((part) => part !== undefined);
    const broken = ruleViolations
      .filter(
        (v) =>
          v.kind === manifest.kind &&
          v.name === metadata.name &&
          v.namespace === metadata.namespace,
      )
      .map(({ path, message }) => ({ path, message }));
    return {
      urn: resource.urn,
      resource: `${manifest.apiVersion} ${manifest.kind} ${where.join("/")}`,
      violations: [...(catalog?.validate(manifest) ?? []), ...broken],
    };
  });
  // A rule about an object the stack does not create (a Task a Pipeline names) still counts.
  const reported = new Set(reports.map((r) => r.resource.split(" ").slice(1).join(" ")));
  for (const v of ruleViolations) {
    const where = `${v.kind} ${[v.namespace, v.name].filter((p) => p !== undefined).join("/")}`;
    if (reported.has(where)) continue;
    reports.push({
      urn: `upstream-rules:${where}`,
      resource: where,
      violations: [{ path: v.path, message: v.message }],
    });
  }
  return reports;
}

export interface StackReport {
  readonly stack: string;
  readonly file: string;
  readonly reports: readonly ResourceReport[];
  /** The program failed for this stack file (its resources are then incomplete). */
  readonly error?: string;
  /** The Route's `spec.traffic`: what the stack would deploy. */
  readonly traffic?: readonly TrafficTarget[];
  /** Undefined when the config did not parse (the error says why). */
  readonly stepGuard?: StepGuardResult;
  /** What this run assumed or skipped, each with why: never counted as passed. */
  readonly notChecked: readonly NotChecked[];
  /** Warnings the program logged (render mode, overrides). */
  readonly warnings: readonly string[];
}

export interface CheckOptions {
  /** The stack's last outputs, for the step guard; default: none (`not checked`). */
  readonly outputsFor?: (stack: string) => Promise<OutputsRead>;
}

const NO_OUTPUTS: OutputsRead = { unavailable: "no source of outputs was given" };

/**
 * Runs the program for each committed stack file, as a preview against a cluster in which every
 * revision it reads is Ready, and checks what it would create. Secrets, committed or not, get
 * stand-in values: only the shape of the resources matters here. What that cluster and those
 * stand-ins stand for is listed under `notChecked`. Without a catalog (`--config-only`) the
 * schemas are not checked, and listed so.
 */
export async function checkStackFiles(
  catalog: CrdCatalog | undefined,
  only: readonly string[] = [],
  root: string = PROJECT_ROOT,
  options: CheckOptions = {},
): Promise<StackReport[]> {
  const files = Object.entries(stackFiles(root)).filter(
    ([stack]) => only.length === 0 || only.includes(stack),
  );
  const missing = only.filter((stack) => !files.some(([name]) => name === stack));
  if (missing.length > 0) {
    throw new Error(
      `no stack file for ${missing.join(", ")} in ${root}; stacks: ${Object.keys(stackFiles(root)).join(", ")}`,
    );
  }
  const reports: StackReport[] = [];
  for (const [stack, file] of files) {
    const loaded = loadStackConfig(file, () => "stand-in-secret");
    const { config, secretKeys } = withStandInSecrets(loaded);
    const run = await runProgram({ config, secretKeys, stack, cluster: everyRevisionPassed });
    const traffic = routeTrafficOf(run.resources);
    const parsed = parsedConfig(config, secretKeys);
    const notChecked: NotChecked[] = [];
    let stepGuard: StepGuardResult | undefined;
    if (parsed !== undefined) {
      stepGuard = judgeStepGuard(
        stack,
        parsed,
        traffic,
        await (options.outputsFor ?? (async () => NO_OUTPUTS))(stack),
      );
      if (stepGuard.status === "not checked") notChecked.push(stepGuard.item);
      notChecked.push(...revisionReadsNotChecked(parsed));
      const standIns = Object.keys(config).filter((key) => !(key in loaded.config));
      notChecked.push(
        ...missingSecretsNotChecked(
          path.basename(file),
          configProblems(loaded.config, loaded.secretKeys),
          standIns,
        ),
      );
    }
    const custom = run.resources.filter(isCustomResource);
    if (catalog === undefined && custom.length > 0) {
      notChecked.push({
        what: `${custom.length} custom resources against the schemas of their CRDs`,
        why:
          "--config-only reads no CRDs (the upstream admission rules, which need none, were " +
          "checked)",
      });
    }
    reports.push({
      stack,
      file,
      reports: checkResources(catalog, run.resources),
      ...(run.error !== undefined ? { error: run.error.message } : {}),
      ...(traffic !== undefined ? { traffic } : {}),
      ...(stepGuard !== undefined ? { stepGuard } : {}),
      notChecked,
      warnings: run.logs,
    });
  }
  return reports;
}

/** The config as the program judged it; undefined when it refused it (the run failed too). */
function parsedConfig(
  config: Record<string, string>,
  secretKeys: readonly string[],
): Readonly<CanaryConfig> | undefined {
  try {
    return parseConfig(config, secretKeys);
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

/** The problems of the stack file's own config, without the stand-in secrets. */
function configProblems(
  config: Record<string, string>,
  secretKeys: readonly string[],
): readonly ConfigProblem[] {
  try {
    parseConfig(config, secretKeys);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}
