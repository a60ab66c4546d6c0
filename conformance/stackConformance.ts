// Validates every custom resource the program registers against the CRDs of a cluster (or of
// the upstream releases in ../shared/crds) and against the upstream admission rules no schema
// carries (upstreamRules.ts). Used by the tests and by `npm run validate`.
import * as path from "path";
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

/** The upstream CRDs beside the project (CI lays ../shared next to the checkout). */
export const DEFAULT_CRDS_DIR = path.resolve(PROJECT_ROOT, "..", "shared", "crds");

/** `CANARY_CRDS_DIR` when set, else the upstream CRDs beside the project. */
export function crdsDirectory(): string {
  return process.env.CANARY_CRDS_DIR ?? DEFAULT_CRDS_DIR;
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
 * schema carries (upstreamRules.ts).
 */
export function checkResources(
  catalog: CrdCatalog,
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
      violations: [...catalog.validate(manifest), ...broken],
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
}

/**
 * Runs the program for each committed stack file, as a preview against a cluster in which every
 * revision it reads is Ready, and checks what it would create. Secrets, committed or not, get
 * stand-in values: only the shape of the resources matters here.
 */
export async function checkStackFiles(
  catalog: CrdCatalog,
  only: readonly string[] = [],
  root: string = PROJECT_ROOT,
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
    const { config, secretKeys } = withStandInSecrets(
      loadStackConfig(file, () => "stand-in-secret"),
    );
    const run = await runProgram({ config, secretKeys, stack, cluster: everyRevisionPassed });
    reports.push({
      stack,
      file,
      reports: checkResources(catalog, run.resources),
      ...(run.error !== undefined ? { error: run.error.message } : {}),
    });
  }
  return reports;
}
