// The admission rules of Tekton Triggers that no schema carries: the Triggers CRDs are
// schema-less (x-kubernetes-preserve-unknown-fields at the root), so a bad EventListener,
// TriggerBinding or TriggerTemplate is caught only by the Triggers webhook, at `pulumi up`, or,
// worse, only when the first push arrives. These functions apply the same rules offline, at test
// time (upstreamRules.ts runs them on every rendered stack).
//
// Source: tektoncd/triggers v0.37, pkg/apis/triggers/v1beta1/
//   event_listener_validation.go   name <= 60, triggers/selectors, trigger name a label value,
//                                  template xor triggerRef, kubernetesResource xor customResource
//   trigger_validation.go          bindings (ref xor name, kind), template (spec xor ref,
//                                  apiversion), interceptors (ref.name or webhook)
//   trigger_binding_validation.go  unique param names, terminated $( ) expressions
//   trigger_template_validation.go resourcetemplates present, apiVersion/kind set and a Tekton
//                                  Pipelines type (pkg/apis/config/allowed_types.go), every
//                                  $(tt.params.X) declared
// and tektoncd/pipeline pkg/apis/validate/metadata.go (names: DNS-1123 subdomain, <= 63), which
// Tekton Pipelines also applies to the PipelineRun the template creates
// (pkg/apis/pipeline/v1/pipelinerun_validation.go).
//
// Rules marked "project rule" are not admission checks: Tekton finds those problems only when an
// event arrives (pkg/template/resource.go: unknown binding/template, duplicate binding params),
// or never (a template param nobody supplies stays a literal `$(tt.params.X)` in the PipelineRun).
// A few webhook checks are left out because these manifests never use the fields: pod template
// masks of spec.resources, webhook interceptor headers, EventListener annotations.
import { isDns1123Subdomain } from "../common/dnsNames";
import type { Manifest } from "../common/json";
import { isRecord } from "../common/json";

export interface TriggerRuleViolation {
  /** `Kind name`, e.g. `TriggerTemplate hello-build`. */
  readonly resource: string;
  /** Dotted path in that resource, e.g. `spec.resourcetemplates[0]`. */
  readonly path: string;
  /** Whole sentence: resource, path, the bad value and what is valid. */
  readonly message: string;
}

export interface TriggerManifestSet {
  readonly eventListener: Manifest;
  readonly bindings: readonly Manifest[];
  readonly template: Manifest;
}

type JsonObject = Record<string, unknown>;

function record(value: unknown): JsonObject {
  return isRecord(value) ? value : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function nameOf(manifest: Manifest): string {
  return str(record(manifest.metadata).name) ?? "<unnamed>";
}

function resourceOf(manifest: Manifest): string {
  return `${manifest.kind} ${nameOf(manifest)}`;
}

/** Collects violations of one resource, with its name in front of every message. */
class Collector {
  readonly violations: TriggerRuleViolation[] = [];
  constructor(readonly resource: string) {}
  add(path: string, problem: string): void {
    const where = path === "" ? "" : ` ${path}`;
    this.violations.push({
      resource: this.resource,
      path,
      message: `${this.resource}:${where} ${problem}`,
    });
  }
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** EventListener names: at most 60, because the Service is named `el-<name>`. */
export const EVENT_LISTENER_NAME_MAX = 60;
/** Other Triggers objects: tektoncd/pipeline validate.MaxLength (a DNS-1123 label length). */
export const TRIGGERS_OBJECT_NAME_MAX = 63;

function checkObjectName(c: Collector, manifest: Manifest, max: number, why: string) {
  const name = str(record(manifest.metadata).name);
  if (name === undefined || name === "") {
    c.add("metadata.name", "is missing: every Triggers object needs a name");
    return;
  }
  if (!isDns1123Subdomain(name)) {
    c.add(
      "metadata.name",
      `${JSON.stringify(name)} is not a valid name: use lowercase letters, digits, '-' and '.', ` +
        `starting and ending with a letter or digit`,
    );
  }
  if (name.length > max) {
    c.add(
      "metadata.name",
      `${JSON.stringify(name)} is ${name.length} characters long; at most ${max} are allowed${why}`,
    );
  }
}

// --- EventListener -------------------------------------------------------------------------

const BINDING_KINDS = ["TriggerBinding", "ClusterTriggerBinding"];
const TEMPLATE_API_VERSIONS = ["v1alpha1", "v1beta1"];

function checkTriggerBindings(c: Collector, path: string, bindings: unknown): void {
  list(bindings).forEach((raw, j) => {
    const binding = record(raw);
    const at = `${path}.bindings[${j}]`;
    const ref = str(binding.ref) ?? "";
    const name = str(binding.name) ?? "";
    if (ref !== "") {
      if (name !== "") {
        c.add(at, `sets both ref ${JSON.stringify(ref)} and name ${JSON.stringify(name)}: use one`);
      }
      // An empty kind is defaulted to TriggerBinding by the webhook and by the sink.
      const kind = str(binding.kind) ?? "";
      if (kind !== "" && !BINDING_KINDS.includes(kind)) {
        c.add(
          `${at}.kind`,
          `${JSON.stringify(kind)} is invalid: use ${BINDING_KINDS.join(" or ")}`,
        );
      }
    } else if (name !== "") {
      if (typeof binding.value !== "string") {
        c.add(`${at}.value`, `is missing: an inline binding ${JSON.stringify(name)} needs a value`);
      }
    } else {
      c.add(at, "has neither ref nor name: reference a TriggerBinding or give name and value");
    }
  });
}

function checkTriggerTemplateRef(c: Collector, path: string, template: unknown): void {
  const t = record(template);
  const apiVersion = str(t.apiversion) ?? "";
  if (apiVersion !== "" && !TEMPLATE_API_VERSIONS.includes(apiVersion)) {
    c.add(
      `${path}.template.apiversion`,
      `${JSON.stringify(apiVersion)} is invalid: use ${TEMPLATE_API_VERSIONS.join(" or ")}`,
    );
  }
  const hasSpec = t.spec !== undefined && t.spec !== null;
  const hasRef = t.ref !== undefined && t.ref !== null;
  if (hasSpec && hasRef) {
    c.add(`${path}.template`, "sets both spec and ref: use one");
  } else if (!hasSpec && !hasRef) {
    c.add(`${path}.template`, "has neither spec nor ref: reference a TriggerTemplate by ref");
  } else if (hasSpec) {
    checkTemplateSpec(c, `${path}.template.spec`, t.spec);
  } else if (str(t.ref) === undefined || t.ref === "") {
    c.add(`${path}.template.ref`, "is empty: name the TriggerTemplate");
  }
}

function checkInterceptors(c: Collector, path: string, interceptors: unknown): void {
  list(interceptors).forEach((raw, k) => {
    const at = `${path}.interceptors[${k}]`;
    if (!isRecord(raw)) {
      c.add(at, `${JSON.stringify(raw)} is not an interceptor: give ref.name and params`);
      return;
    }
    if (raw.webhook === undefined && (str(record(raw.ref).name) ?? "") === "") {
      c.add(
        `${at}.ref.name`,
        `is missing: name the interceptor (a ClusterInterceptor such as "github" or "cel")`,
      );
    }
  });
}

export function validateEventListener(eventListener: Manifest): TriggerRuleViolation[] {
  const c = new Collector(resourceOf(eventListener));
  checkObjectName(
    c,
    eventListener,
    EVENT_LISTENER_NAME_MAX,
    " (Tekton names the EventListener's Service el-<name>)",
  );
  const spec = record(eventListener.spec);
  const triggers = list(spec.triggers);
  const hasSelector =
    spec.labelSelector !== undefined ||
    list(record(spec.namespaceSelector).matchNames).length > 0 ||
    list(spec.triggerGroups).length > 0;
  if (!hasSelector && triggers.length === 0) {
    c.add(
      "spec",
      "has no triggers: set spec.triggers (or labelSelector, namespaceSelector, triggerGroups)",
    );
  }
  triggers.forEach((raw, i) => {
    const at = `spec.triggers[${i}]`;
    const trigger = record(raw);
    const triggerRef = str(trigger.triggerRef) ?? "";
    if (trigger.template === undefined && triggerRef === "") {
      c.add(at, "has no template: set template.ref (or triggerRef)");
    }
    if (
      triggerRef !== "" &&
      (trigger.template !== undefined ||
        trigger.bindings !== undefined ||
        trigger.interceptors !== undefined)
    ) {
      c.add(at, `sets triggerRef ${JSON.stringify(triggerRef)} and template/bindings/interceptors`);
    }
    checkTriggerBindings(c, at, trigger.bindings);
    if (trigger.template !== undefined) checkTriggerTemplateRef(c, at, trigger.template);
    checkInterceptors(c, at, trigger.interceptors);
    // The trigger name becomes the value of the label triggers.tekton.dev/trigger.
    const name = trigger.name === undefined ? "" : trigger.name;
    if (typeof name !== "string" || name.length > 63 || !LABEL_VALUE.test(name)) {
      c.add(
        `${at}.name`,
        `${JSON.stringify(name)} is not a valid label value: at most 63 of A-Z, a-z, 0-9, ` +
          `'-', '_', '.', starting and ending with a letter or digit`,
      );
    }
  });
  const resources = record(spec.resources);
  if (resources.kubernetesResource !== undefined && resources.customResource !== undefined) {
    c.add("spec.resources", "sets both kubernetesResource and customResource: use one");
  }
  return c.violations;
}

// --- TriggerBinding ------------------------------------------------------------------------

/**
 * Tekton's check that every `$(` in a binding value is closed before the next `$(` starts.
 * Like Tekton, the last expression is not checked (`"$(body.a"` passes admission).
 */
export function bindingValueTerminated(value: string): boolean {
  if (!value.includes("$(")) return true;
  let terminated = true;
  for (const part of value.split("$(").slice(1)) {
    if (!terminated) return false;
    terminated = false;
    let open = 0;
    for (const ch of part) {
      if (ch === "(") open++;
      else if (ch === ")") open--;
      if (open < 0) {
        terminated = true;
        break;
      }
    }
  }
  return true;
}

function checkBindingParams(c: Collector, path: string, params: unknown): void {
  const seen = new Set<string>();
  list(params).forEach((raw, i) => {
    const param = record(raw);
    const at = `${path}[${i}]`;
    const name = str(param.name);
    const value = str(param.value);
    if (name === undefined) {
      c.add(`${at}.name`, `must be a string, got ${JSON.stringify(param.name)}`);
      return;
    }
    if (seen.has(name)) c.add(`${at}.name`, `${JSON.stringify(name)} is declared twice`);
    seen.add(name);
    if (value === undefined) {
      c.add(`${at}.value`, `must be a string, got ${JSON.stringify(param.value)}`);
    } else if (!bindingValueTerminated(value)) {
      c.add(`${at}.value`, `${JSON.stringify(value)} has an unterminated $( expression`);
    }
  });
}

export function validateTriggerBinding(binding: Manifest): TriggerRuleViolation[] {
  const c = new Collector(resourceOf(binding));
  checkObjectName(c, binding, TRIGGERS_OBJECT_NAME_MAX, "");
  const spec = binding.spec;
  if (!isRecord(spec) || Object.keys(spec).length === 0) {
    c.add("spec", "is missing: set spec.params");
    return c.violations;
  }
  checkBindingParams(c, "spec.params", spec.params);
  return c.violations;
}

// --- TriggerTemplate -----------------------------------------------------------------------

// Tekton's own pattern (trigger_template_validation.go), unescaped dots included.
const TT_PARAM_REF = /\$\(tt.params.([_a-zA-Z][_a-zA-Z0-9.-]*)\)/g;

/** The param names that a resource template refers to as `$(tt.params.NAME)`, in order. */
export function templateParamReferences(resourceTemplate: unknown): string[] {
  const raw = JSON.stringify(resourceTemplate) ?? "";
  return [...raw.matchAll(TT_PARAM_REF)].map((match) => match[1]);
}

// The types Tekton Triggers can decode in a resource template (pkg/apis/config/allowed_types.go
// registers the tekton.dev v1alpha1, v1beta1 and v1 schemes of Tekton Pipelines).
const ALLOWED_TEMPLATE_TYPES: Readonly<Record<string, readonly string[]>> = {
  "tekton.dev/v1": ["Pipeline", "PipelineRun", "Task", "TaskRun"],
  "tekton.dev/v1beta1": [
    "Pipeline",
    "PipelineRun",
    "Task",
    "TaskRun",
    "ClusterTask",
    "CustomRun",
    "StepAction",
  ],
  "tekton.dev/v1alpha1": ["Run", "PipelineResource", "StepAction", "VerificationPolicy"],
};

function templateParamSpecs(spec: JsonObject): { name: string; hasDefault: boolean }[] {
  return list(spec.params)
    .map(record)
    .filter((p) => typeof p.name === "string")
    .map((p) => ({ name: p.name as string, hasDefault: typeof p.default === "string" }));
}

function checkTemplateSpec(c: Collector, path: string, rawSpec: unknown): void {
  const spec = record(rawSpec);
  if (Object.keys(spec).length === 0) {
    c.add(path, "is missing: set params and resourcetemplates");
    return;
  }
  const seen = new Set<string>();
  list(spec.params).forEach((raw, i) => {
    const param = record(raw);
    const at = `${path}.params[${i}]`;
    if (typeof param.name !== "string" || param.name === "") {
      c.add(`${at}.name`, `must be a non-empty string, got ${JSON.stringify(param.name)}`);
      return;
    }
    // Project rule: Tekton takes the last default of a duplicated name; declare each once.
    if (seen.has(param.name)) {
      c.add(`${at}.name`, `${JSON.stringify(param.name)} is declared twice (project rule)`);
    }
    seen.add(param.name);
    if (param.default !== undefined && typeof param.default !== "string") {
      c.add(`${at}.default`, `must be a string, got ${JSON.stringify(param.default)}`);
    }
  });
  const declared = new Set(templateParamSpecs(spec).map((p) => p.name));
  const templates = list(spec.resourcetemplates);
  if (templates.length === 0) {
    c.add(`${path}.resourcetemplates`, "is empty: give at least one resource to create");
  }
  templates.forEach((raw, i) => {
    const at = `${path}.resourcetemplates[${i}]`;
    const resource = record(raw);
    const apiVersion = str(resource.apiVersion) ?? "";
    const kind = str(resource.kind) ?? "";
    if (apiVersion === "") c.add(`${at}.apiVersion`, "is missing: e.g. tekton.dev/v1");
    if (kind === "") c.add(`${at}.kind`, "is missing: e.g. PipelineRun");
    if (apiVersion !== "" && kind !== "" && !ALLOWED_TEMPLATE_TYPES[apiVersion]?.includes(kind)) {
      const allowed = Object.entries(ALLOWED_TEMPLATE_TYPES).map(
        ([version, kinds]) => `${version} ${kinds.join("/")}`,
      );
      c.add(
        at,
        `is a ${apiVersion} ${kind}, which Tekton Triggers cannot create; allowed: ` +
          allowed.join("; "),
      );
    }
    checkCreatedName(c, at, record(resource.metadata));
    for (const name of new Set(templateParamReferences(raw))) {
      if (!declared.has(name)) {
        const known = [...declared].join(", ") || "none";
        c.add(
          at,
          `uses $(tt.params.${name}) which is not declared in ${path}.params (declared: ${known})`,
        );
      }
    }
  });
}

/** Kubernetes appends this many random characters to a generateName. */
const GENERATED_SUFFIX_LENGTH = 5;

// Project rule, from Tekton Pipelines' admission of the created resource (validate.ObjectMetadata
// in tektoncd/pipeline: names of at most 63): a generateName that is too long makes every
// event fail at creation, long after `pulumi up` succeeded. Names made of params are not known.
function checkCreatedName(c: Collector, path: string, metadata: JsonObject): void {
  const name = str(metadata.name) ?? "";
  const generateName = str(metadata.generateName) ?? "";
  if (name !== "" && !name.includes("$(") && name.length > TRIGGERS_OBJECT_NAME_MAX) {
    c.add(
      `${path}.metadata.name`,
      `${JSON.stringify(name)} is ${name.length} characters long; Tekton allows at most ` +
        `${TRIGGERS_OBJECT_NAME_MAX} (project rule)`,
    );
  }
  const max = TRIGGERS_OBJECT_NAME_MAX - GENERATED_SUFFIX_LENGTH;
  if (name === "" && !generateName.includes("$(") && generateName.length > max) {
    c.add(
      `${path}.metadata.generateName`,
      `${JSON.stringify(generateName)} is ${generateName.length} characters long; at most ` +
        `${max}, since Kubernetes appends ${GENERATED_SUFFIX_LENGTH} characters and Tekton ` +
        `allows names of at most ${TRIGGERS_OBJECT_NAME_MAX} (project rule)`,
    );
  }
}

export function validateTriggerTemplate(template: Manifest): TriggerRuleViolation[] {
  const c = new Collector(resourceOf(template));
  checkObjectName(c, template, TRIGGERS_OBJECT_NAME_MAX, "");
  checkTemplateSpec(c, "spec", template.spec);
  return c.violations;
}

// --- How the three fit together (project rules) ---------------------------------------------

/**
 * What Tekton checks only when an event arrives, or never: the EventListener's refs name the
 * given binding(s) and template in its namespace, binding params are unique across a trigger,
 * every template param without a default is supplied by a binding, and no binding param is
 * ignored by the template (a typo would leave the template's param unsupplied).
 */
export function validateTriggerWiring(set: TriggerManifestSet): TriggerRuleViolation[] {
  const el = set.eventListener;
  const c = new Collector(resourceOf(el));
  const namespace = str(record(el.metadata).namespace);
  const templateName = nameOf(set.template);
  for (const other of [...set.bindings, set.template]) {
    const otherNamespace = str(record(other.metadata).namespace);
    if (otherNamespace !== namespace) {
      c.add(
        "metadata.namespace",
        `is ${JSON.stringify(namespace)} but ${resourceOf(other)} is in ` +
          `${JSON.stringify(otherNamespace)}: Triggers looks refs up in the EventListener's namespace`,
      );
    }
  }
  const declared = templateParamSpecs(record(set.template.spec));
  list(record(el.spec).triggers).forEach((raw, i) => {
    const at = `spec.triggers[${i}]`;
    const trigger = record(raw);
    const templateRef = str(record(trigger.template).ref);
    if (templateRef !== undefined && templateRef !== templateName) {
      c.add(
        `${at}.template.ref`,
        `${JSON.stringify(templateRef)} names no given TriggerTemplate (the template is ` +
          `${JSON.stringify(templateName)}) (project rule)`,
      );
    }
    const supplied: { name: string; from: string }[] = [];
    list(trigger.bindings).forEach((rawBinding, j) => {
      const binding = record(rawBinding);
      const ref = str(binding.ref);
      if (ref === undefined || ref === "") {
        if (typeof binding.name === "string") {
          supplied.push({ name: binding.name, from: `${at}.bindings[${j}]` });
        }
        return;
      }
      const kind = str(binding.kind) || "TriggerBinding";
      const target = set.bindings.find((b) => b.kind === kind && nameOf(b) === ref);
      if (target === undefined) {
        const given = set.bindings.map(resourceOf).join(", ") || "none";
        c.add(
          `${at}.bindings[${j}].ref`,
          `${JSON.stringify(ref)} names no given ${kind} (given: ${given}) (project rule)`,
        );
        return;
      }
      for (const param of list(record(target.spec).params).map(record)) {
        if (typeof param.name === "string") {
          supplied.push({ name: param.name, from: resourceOf(target) });
        }
      }
    });
    const seen = new Map<string, string>();
    for (const { name, from } of supplied) {
      const first = seen.get(name);
      if (first !== undefined) {
        c.add(
          `${at}.bindings`,
          `param ${JSON.stringify(name)} is bound twice (${first} and ${from}); Tekton rejects ` +
            `every event of this trigger with "duplicate param name" (project rule)`,
        );
      }
      seen.set(name, from);
    }
    if (templateRef !== templateName) return;
    for (const param of declared) {
      if (!param.hasDefault && !seen.has(param.name)) {
        c.add(
          `${at}.bindings`,
          `supply no value for param ${JSON.stringify(param.name)} of TriggerTemplate ` +
            `${templateName}, which has no default: the PipelineRun would get the literal ` +
            `$(tt.params.${param.name}) (project rule)`,
        );
      }
    }
    const declaredNames = new Set(declared.map((p) => p.name));
    for (const [name, from] of seen) {
      if (!declaredNames.has(name)) {
        c.add(
          `${at}.bindings`,
          `param ${JSON.stringify(name)} (from ${from}) is not a param of TriggerTemplate ` +
            `${templateName}, so its value is never used; declared: ` +
            `${[...declaredNames].join(", ") || "none"} (project rule)`,
        );
      }
    }
  });
  return c.violations;
}

/** Every rule above for the EventListener, its binding(s) and template; empty when valid. */
export function validateTriggerManifests(set: TriggerManifestSet): TriggerRuleViolation[] {
  return [
    ...validateEventListener(set.eventListener),
    ...set.bindings.flatMap(validateTriggerBinding),
    ...validateTriggerTemplate(set.template),
    ...validateTriggerWiring(set),
  ];
}
