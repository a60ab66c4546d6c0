// The upstream admission rules no CRD schema carries, applied offline to what a stack renders:
// Tekton Pipelines' (tektonRules.ts), Tekton Triggers' (triggersRules.ts) and Knative Serving's
// traffic rules (knativeRules.ts). They check
// structure this project's own builders generate, so they run at test time (`npm test`,
// `npm run validate`), never on the preview path. Rules about user input (traffic, names) are
// the config layer's (config.ts with common/).
import type { Manifest } from "../common/json";
import { validateTraffic } from "./knativeRules";
import { validatePipelineManifests } from "./tektonRules";
import { validateTriggerManifests } from "./triggersRules";

/**
 * The upstream releases the rules were read from. When the platform's default versions move,
 * a test (test/conformance.test.ts) says so: re-read the rules' sources at the new tags, then
 * move these.
 */
export const RULES_READ_FROM = Object.freeze({
  /** tektoncd/pipeline pkg/apis/pipeline/v1 (task_validation.go, pipeline_validation.go). */
  tektonPipeline: "v1.15.0",
  /** tektoncd/triggers pkg/apis/triggers/v1beta1 (*_validation.go). */
  tektonTriggers: "v0.37.0",
  /** knative/serving pkg/apis/serving/v1 (route_validation.go). */
  knativeServing: "knative-v1.23.0",
});

/** One rule a rendered object breaks. */
export interface RuleViolation {
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string;
  /** Dotted path in the object, e.g. `spec.tasks[2].params[0]`. */
  readonly path: string;
  readonly message: string;
}

function metadataOf(manifest: Manifest): { name: string; namespace: string | undefined } {
  const metadata = (manifest.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  return {
    name: String(metadata.name ?? ""),
    namespace: typeof metadata.namespace === "string" ? metadata.namespace : undefined,
  };
}

const ofKind = (manifests: readonly Manifest[], group: string, kind: string): Manifest[] =>
  manifests.filter((m) => m.kind === kind && String(m.apiVersion).startsWith(`${group}/`));

/**
 * Every upstream rule the objects break: each Pipeline with the Tasks of its namespace, each
 * Knative Route's and Service's traffic, each EventListener with the TriggerBindings and
 * TriggerTemplates of its namespace. Empty when
 * Tekton would admit and run them.
 */
export function upstreamRuleViolations(manifests: readonly Manifest[]): RuleViolation[] {
  const violations: RuleViolation[] = [];
  const sameNamespace = (of: Manifest) => (other: Manifest) =>
    metadataOf(other).namespace === metadataOf(of).namespace;

  const tasks = ofKind(manifests, "tekton.dev", "Task");
  for (const pipeline of ofKind(manifests, "tekton.dev", "Pipeline")) {
    for (const violation of validatePipelineManifests(
      pipeline,
      tasks.filter(sameNamespace(pipeline)),
    )) {
      // `<Kind>/<name>.<path>`
      const match = /^(\w+)\/([^.]+)\.?(.*)$/.exec(violation.path);
      const kind = match?.[1] ?? "Pipeline";
      const name = match?.[2] ?? metadataOf(pipeline).name;
      violations.push({
        kind,
        namespace: metadataOf(pipeline).namespace,
        name,
        path: match?.[3] ?? violation.path,
        message: violation.message,
      });
    }
  }

  for (const kind of ["Route", "Service"] as const) {
    for (const object of ofKind(manifests, "serving.knative.dev", kind)) {
      const spec = (object.spec ?? {}) as { traffic?: unknown };
      // A Service without traffic gets Knative's default; the CRD schema checks the shape.
      if (!Array.isArray(spec.traffic)) continue;
      for (const error of validateTraffic(spec.traffic, kind)) {
        violations.push({ kind, ...metadataOf(object), path: error.path, message: error.message });
      }
    }
  }

  const bindings = ofKind(manifests, "triggers.tekton.dev", "TriggerBinding");
  const templates = ofKind(manifests, "triggers.tekton.dev", "TriggerTemplate");
  for (const eventListener of ofKind(manifests, "triggers.tekton.dev", "EventListener")) {
    const template = templates.find(sameNamespace(eventListener));
    if (template === undefined) {
      violations.push({
        kind: "EventListener",
        ...metadataOf(eventListener),
        path: "spec.triggers",
        message: "no TriggerTemplate in its namespace: a delivery would start nothing",
      });
      continue;
    }
    const found = validateTriggerManifests({
      eventListener: eventListener as Manifest,
      bindings: bindings.filter(sameNamespace(eventListener)) as Manifest[],
      template: template as Manifest,
    });
    for (const violation of found) {
      const [kind, ...rest] = violation.resource.split(" ");
      violations.push({
        kind,
        namespace: metadataOf(eventListener).namespace,
        name: rest.join(" "),
        path: violation.path,
        message: violation.message,
      });
    }
  }
  return violations;
}
