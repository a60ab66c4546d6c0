// Tekton's admission rules for Tasks and Pipelines that the CRD schemas do not carry, plus the
// checks Tekton only makes when a PipelineRun starts (a Task's required params and workspaces),
// so that a pipeline Tekton would refuse fails `npm test` and `npm run validate` (upstreamRules.ts
// applies these to every rendered stack) instead of the first push.
//
// Mirrors tektoncd/pipeline v1.15 pkg/apis/pipeline/v1:
// - task_validation.go: steps present, step names unique DNS-1123 labels, an image per step,
//   not script and command together, volumeMounts not under /tekton/, unique volume names,
//   unique workspace names, param names unique and well-formed, param default of the declared
//   type, every $(params.X) declared (ValidateUsageOfDeclaredParameters), $(results.X.path)
//   declared (validateTaskResultsVariables), $(context.taskRun|task.X) known.
// - pipeline_validation.go: pipeline task names unique DNS-1123 labels (tasks and finally
//   together), one of taskRef/taskSpec, every $(params.X) in task params and when expressions
//   declared by the Pipeline, param and workspace names unique, every bound workspace declared
//   (validatePipelineWorkspacesUsage), runAfter and result references to existing tasks without
//   cycles (validateGraph), no runAfter in finally, $(tasks.status) and $(tasks.T.status) only in
//   finally and only for dag tasks, finally tasks not consuming finally results
//   (validateTaskResultReferenceInFinallyTasks), pipeline results referencing existing tasks,
//   finally only with tasks.
// Checked here although Tekton checks them only at run time (pkg/reconciler): a pipeline task
// passes every param its Task requires (no default) and no param the Task does not declare
// (Tekton would ignore it silently: a typo), binds every non-optional workspace of its Task and
// no other, and $(tasks.T.results.R) names a result Task T declares. Where upstream looks only
// at step scripts ($(results.X.path)), these checks also look at env values, which Tekton
// substitutes all the same.
//
// Pure module: no Pulumi, no I/O.
import { isDns1123Label } from "../common/dnsNames";
import type { Manifest } from "../components/shared/manifest";
import { isRecord } from "../common/json";

export interface TektonRuleViolation {
  /** `<Kind>/<name>.` then the dotted field path, e.g. `Pipeline/build.spec.tasks[2].params[0]`. */
  path: string;
  message: string;
}

type Json = Record<string, unknown>;

function records(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

// task_validation.go stringAndArrayVariableNameFormat
const PARAM_NAME = /^[_a-zA-Z][_a-zA-Z0-9.-]*$/;
// result_validation.go: ResultNameFormat
const RESULT_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** One `$(...)` Tekton variable: its root (`params`, `tasks`...) and its dotted parts. */
export interface VariableReference {
  readonly expression: string;
  readonly root: string;
  readonly parts: readonly string[];
}

const VARIABLE_ROOTS = new Set([
  "params",
  "results",
  "workspaces",
  "context",
  "tasks",
  "finally",
  "steps",
  "step",
]);

/**
 * The Tekton variables in a string. `$(...)` expressions that are not Tekton variables (shell
 * command substitutions such as `$(git rev-parse HEAD)`) are skipped.
 */
export function variableReferences(text: string): VariableReference[] {
  const found: VariableReference[] = [];
  for (const match of text.matchAll(/\$\(([^()]*)\)/g)) {
    const expression = match[1];
    const head = /^([a-zA-Z]+)/.exec(expression);
    if (head === null || !VARIABLE_ROOTS.has(head[1])) continue;
    const parts: string[] = [];
    let rest = expression.slice(head[1].length);
    let parsed = true;
    while (rest !== "") {
      const token =
        /^\.([^.[\]\s"']+)/.exec(rest) ??
        /^\["([^"]*)"\]/.exec(rest) ??
        /^\['([^']*)'\]/.exec(rest) ??
        /^\[(\*|\d+)\]/.exec(rest);
      if (token === null) {
        parsed = false;
        break;
      }
      // Array indexes and [*] select inside a value: not part of the variable's name.
      if (!/^\[(\*|\d+)\]/.test(token[0])) parts.push(token[1]);
      rest = rest.slice(token[0].length);
    }
    if (parsed) found.push({ expression: `$(${expression})`, root: head[1], parts });
  }
  return found;
}

/** Every string inside a value, with its path below `base`. */
function stringsIn(value: unknown, base: string): Array<[string, string]> {
  if (typeof value === "string") return [[base, value]];
  if (Array.isArray(value)) return value.flatMap((item, i) => stringsIn(item, `${base}[${i}]`));
  if (isRecord(value)) {
    return Object.entries(value).flatMap(([key, item]) => stringsIn(item, `${base}.${key}`));
  }
  return [];
}

function nameOf(manifest: Manifest): string {
  const metadata = isRecord(manifest.metadata) ? manifest.metadata : {};
  return str(metadata.name) ?? "<unnamed>";
}

class Violations {
  readonly list: TektonRuleViolation[] = [];
  constructor(private readonly prefix: string) {}
  add(path: string, message: string): void {
    this.list.push({ path: `${this.prefix}.${path}`, message });
  }
}

/** Reports names seen twice under `path`[i].name. */
function checkUnique(
  v: Violations,
  items: readonly Json[],
  path: string,
  what: string,
  offset = 0,
  seen = new Set<string>(),
): Set<string> {
  items.forEach((item, i) => {
    const name = str(item.name);
    if (name === undefined) return;
    if (seen.has(name)) v.add(`${path}[${i + offset}].name`, `${what} "${name}" appears twice`);
    seen.add(name);
  });
  return seen;
}

// ---- Tasks -----------------------------------------------------------------------------------

/** The fields of a step (or the step template) where Tekton substitutes variables. */
function stepStrings(step: Json, base: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const field of ["name", "image", "workingDir", "script", "onError"]) {
    const value = str(step[field]);
    if (value !== undefined) out.push([`${base}.${field}`, value]);
  }
  out.push(...stringsIn(step.command, `${base}.command`));
  out.push(...stringsIn(step.args, `${base}.args`));
  records(step.env).forEach((e, i) => {
    const value = str(e.value);
    if (value !== undefined) out.push([`${base}.env[${i}].value`, value]);
  });
  records(step.volumeMounts).forEach((m, i) => {
    for (const field of ["name", "mountPath", "subPath"]) {
      const value = str(m[field]);
      if (value !== undefined) out.push([`${base}.volumeMounts[${i}].${field}`, value]);
    }
  });
  return out;
}

const TASK_CONTEXT = new Map([
  ["taskRun", new Set(["name", "namespace", "uid"])],
  ["task", new Set(["name", "retry-count"])],
]);
const WORKSPACE_VARIABLES = new Set(["path", "bound", "claim", "volume"]);

/** Tekton's admission rules for one Task (tekton.dev/v1). */
export function validateTaskManifest(task: Manifest): TektonRuleViolation[] {
  const v = new Violations(`Task/${nameOf(task)}`);
  const spec = isRecord(task.spec) ? task.spec : {};
  const steps = records(spec.steps);
  if (steps.length === 0) v.add("spec.steps", "a Task needs at least one step");

  const params = records(spec.params);
  checkUnique(v, params, "spec.params", "param");
  params.forEach((p, i) => {
    const name = str(p.name) ?? "";
    if (!PARAM_NAME.test(name)) {
      v.add(
        `spec.params[${i}].name`,
        `param name "${name}" is invalid: letters, digits, '_', '-' and '.', starting with a ` +
          `letter or '_'`,
      );
    }
    const type = str(p.type) ?? "string";
    if (!["string", "array", "object"].includes(type)) {
      v.add(`spec.params[${i}].type`, `type "${type}" is invalid: string, array or object`);
    }
    if (p.default !== undefined) {
      const defaultType =
        typeof p.default === "string" ? "string" : Array.isArray(p.default) ? "array" : "object";
      if (defaultType !== type) {
        v.add(
          `spec.params[${i}].default`,
          `"${type}" type does not match default value's type: "${defaultType}"`,
        );
      }
    }
  });
  const paramNames = new Set(params.map((p) => str(p.name)).filter((n) => n !== undefined));

  const results = records(spec.results);
  checkUnique(v, results, "spec.results", "result");
  results.forEach((r, i) => {
    const name = str(r.name) ?? "";
    if (!RESULT_NAME.test(name)) {
      v.add(
        `spec.results[${i}].name`,
        `result name "${name}" is invalid: alphanumeric, '-', '_' and '.', alphanumeric at ends`,
      );
    }
  });
  const resultNames = new Set(results.map((r) => str(r.name)).filter((n) => n !== undefined));

  const workspaces = records(spec.workspaces);
  checkUnique(v, workspaces, "spec.workspaces", "workspace");
  const workspaceNames = new Set(workspaces.map((w) => str(w.name)).filter((n) => n !== undefined));

  checkUnique(v, records(spec.volumes), "spec.volumes", "volume");

  const stepNames = new Set<string>();
  steps.forEach((step, i) => {
    const base = `spec.steps[${i}]`;
    const name = str(step.name);
    if (name !== undefined) {
      if (stepNames.has(name)) v.add(`${base}.name`, `step name "${name}" appears twice`);
      stepNames.add(name);
      if (!isDns1123Label(name)) {
        v.add(`${base}.name`, `step name "${name}" must be a DNS-1123 label`);
      }
    }
    if (step.ref === undefined && !str(step.image)) v.add(`${base}.image`, "a step needs an image");
    if (str(step.script) && Array.isArray(step.command) && step.command.length > 0) {
      v.add(`${base}.script`, "script cannot be used with command");
    }
    records(step.volumeMounts).forEach((mount, j) => {
      const mountPath = str(mount.mountPath) ?? "";
      if (mountPath.startsWith("/tekton/") && !mountPath.startsWith("/tekton/home")) {
        v.add(
          `${base}.volumeMounts[${j}].mountPath`,
          `volumeMount cannot be mounted under /tekton/ (got "${mountPath}")`,
        );
      }
    });
  });

  const locations = steps.flatMap((step, i) => stepStrings(step, `spec.steps[${i}]`));
  if (isRecord(spec.stepTemplate))
    locations.push(...stepStrings(spec.stepTemplate, "spec.stepTemplate"));
  for (const [path, text] of locations) {
    for (const ref of variableReferences(text)) {
      const [first, second] = ref.parts;
      if (ref.root === "params" && (first === undefined || !paramNames.has(first))) {
        v.add(
          path,
          `${ref.expression} refers to param "${first}", which the Task does not declare`,
        );
      } else if (ref.root === "results" && (first === undefined || !resultNames.has(first))) {
        v.add(
          path,
          `${ref.expression} refers to result "${first}", which the Task does not declare`,
        );
      } else if (ref.root === "workspaces") {
        if (first === undefined || !workspaceNames.has(first)) {
          v.add(
            path,
            `${ref.expression} refers to workspace "${first}", which the Task does not declare`,
          );
        } else if (second === undefined || !WORKSPACE_VARIABLES.has(second)) {
          v.add(path, `${ref.expression}: a workspace has ${[...WORKSPACE_VARIABLES].join(", ")}`);
        }
      } else if (ref.root === "context") {
        const known = first === undefined ? undefined : TASK_CONTEXT.get(first);
        if (known === undefined || second === undefined || !known.has(second)) {
          v.add(
            path,
            `${ref.expression} is not a Task context variable: context.taskRun.name|namespace|uid, ` +
              `context.task.name|retry-count`,
          );
        }
      }
    }
  }
  return v.list;
}

// ---- Pipelines -------------------------------------------------------------------------------

interface TaskFacts {
  readonly params: ReadonlyMap<string, { required: boolean }>;
  readonly results: ReadonlySet<string>;
  readonly workspaces: ReadonlyMap<string, { optional: boolean }>;
}

function taskFacts(task: Manifest): TaskFacts {
  const spec = isRecord(task.spec) ? task.spec : {};
  const params = new Map<string, { required: boolean }>();
  for (const p of records(spec.params)) {
    const name = str(p.name);
    if (name !== undefined) params.set(name, { required: p.default === undefined });
  }
  const results = new Set<string>();
  for (const r of records(spec.results)) {
    const name = str(r.name);
    if (name !== undefined) results.add(name);
  }
  const workspaces = new Map<string, { optional: boolean }>();
  for (const w of records(spec.workspaces)) {
    const name = str(w.name);
    if (name !== undefined) workspaces.set(name, { optional: w.optional === true });
  }
  return { params, results, workspaces };
}

const PIPELINE_CONTEXT = new Map([
  ["pipelineRun", new Set(["name", "namespace", "uid"])],
  ["pipeline", new Set(["name"])],
  ["pipelineTask", new Set(["retries"])],
]);

/**
 * Tekton's rules for a Pipeline and the Tasks it references (by taskRef name, among `tasks`),
 * and the rules for each of those Tasks. Empty when Tekton would accept and run them.
 */
export function validatePipelineManifests(
  pipeline: Manifest,
  tasks: readonly Manifest[],
): TektonRuleViolation[] {
  const violations: TektonRuleViolation[] = tasks.flatMap(validateTaskManifest);
  const v = new Violations(`Pipeline/${nameOf(pipeline)}`);
  const spec = isRecord(pipeline.spec) ? pipeline.spec : {};
  const dagTasks = records(spec.tasks);
  const finallyTasks = records(spec.finally);
  const taskByName = new Map<string, TaskFacts>();
  for (const task of tasks) {
    if (task.kind === "Task") taskByName.set(nameOf(task), taskFacts(task));
  }

  const params = records(spec.params);
  checkUnique(v, params, "spec.params", "param");
  const paramNames = new Set(params.map((p) => str(p.name)).filter((n) => n !== undefined));

  const workspaces = records(spec.workspaces);
  checkUnique(v, workspaces, "spec.workspaces", "workspace");
  const workspaceNames = new Set(workspaces.map((w) => str(w.name)).filter((n) => n !== undefined));

  if (dagTasks.length === 0) {
    v.add(
      "spec.tasks",
      finallyTasks.length > 0
        ? `spec.tasks is empty but spec.finally has ${finallyTasks.length} tasks`
        : "a Pipeline needs at least one task",
    );
  }
  const dagNames = checkUnique(v, dagTasks, "spec.tasks", "pipeline task");
  const allNames = checkUnique(
    v,
    finallyTasks,
    "spec.finally",
    "pipeline task",
    0,
    new Set(dagNames),
  );
  for (const name of dagNames) allNames.add(name);
  const finallyNames = new Set(finallyTasks.map((t) => str(t.name)).filter((n) => n !== undefined));
  // Which Task each pipeline task runs, to check result references against.
  const factsOfPipelineTask = new Map<string, TaskFacts | undefined>();

  const checkPipelineTask = (pt: Json, base: string, isFinally: boolean): void => {
    const name = str(pt.name) ?? "";
    if (!isDns1123Label(name)) {
      v.add(`${base}.name`, `pipeline task name "${name}" must be a DNS-1123 label`);
    }
    const taskRef = isRecord(pt.taskRef) ? pt.taskRef : undefined;
    if ((taskRef === undefined) === (pt.taskSpec === undefined)) {
      v.add(base, "a pipeline task needs exactly one of taskRef and taskSpec");
    }
    let facts: TaskFacts | undefined;
    const refName = taskRef !== undefined ? str(taskRef.name) : undefined;
    if (taskRef !== undefined && taskRef.resolver === undefined) {
      if (refName === undefined) {
        v.add(`${base}.taskRef.name`, "taskRef must specify name");
      } else {
        facts = taskByName.get(refName);
        if (facts === undefined) {
          v.add(
            `${base}.taskRef.name`,
            `Task "${refName}" is not among the Tasks given (${[...taskByName.keys()].join(", ")})`,
          );
        }
      }
    }
    factsOfPipelineTask.set(name, facts);

    // Params: declared by the Task, required ones all passed, each passed once.
    const passed = records(pt.params);
    const passedNames = checkUnique(v, passed, `${base}.params`, "param");
    if (facts !== undefined) {
      passed.forEach((p, i) => {
        const pname = str(p.name) ?? "";
        if (!facts.params.has(pname)) {
          v.add(
            `${base}.params[${i}].name`,
            `Task "${refName}" declares no param "${pname}" (Tekton would ignore it)`,
          );
        }
      });
      for (const [pname, { required }] of facts.params) {
        if (required && !passedNames.has(pname)) {
          v.add(
            `${base}.params`,
            `missing param "${pname}", which Task "${refName}" requires (it has no default)`,
          );
        }
      }
    }

    // Workspaces: declared by the Pipeline, and matching the Task's.
    const bound = records(pt.workspaces);
    const boundNames = checkUnique(v, bound, `${base}.workspaces`, "workspace binding");
    bound.forEach((w, i) => {
      const wname = str(w.name) ?? "";
      const pipelineWorkspace = str(w.workspace) ?? wname;
      if (!workspaceNames.has(pipelineWorkspace)) {
        v.add(
          `${base}.workspaces[${i}]`,
          `pipeline task "${name}" expects workspace with name "${pipelineWorkspace}" but none ` +
            `exists in pipeline spec`,
        );
      }
      if (facts !== undefined && !facts.workspaces.has(wname)) {
        v.add(
          `${base}.workspaces[${i}].name`,
          `Task "${refName}" declares no workspace "${wname}"`,
        );
      }
    });
    if (facts !== undefined) {
      for (const [wname, { optional }] of facts.workspaces) {
        if (!optional && !boundNames.has(wname)) {
          v.add(
            `${base}.workspaces`,
            `workspace "${wname}" of Task "${refName}" is not optional and is not bound`,
          );
        }
      }
    }

    // runAfter: dag tasks only, naming dag tasks.
    const runAfter = Array.isArray(pt.runAfter) ? pt.runAfter : [];
    if (isFinally && runAfter.length > 0) {
      v.add(
        `${base}.runAfter`,
        `no runAfter allowed under spec.finally, final task ${name} has runAfter specified`,
      );
    }
    if (!isFinally) {
      runAfter.forEach((after, i) => {
        if (typeof after !== "string" || !dagNames.has(after)) {
          v.add(`${base}.runAfter[${i}]`, `runAfter names "${String(after)}", which is not a task`);
        }
      });
    }
  };
  dagTasks.forEach((pt, i) => checkPipelineTask(pt, `spec.tasks[${i}]`, false));
  finallyTasks.forEach((pt, i) => checkPipelineTask(pt, `spec.finally[${i}]`, true));

  // Variables in params and when expressions.
  const checkVariables = (pt: Json, base: string, isFinally: boolean): string[] => {
    const dependsOn: string[] = [];
    const texts = records(pt.params).flatMap((p, i) =>
      stringsIn(p.value, `${base}.params[${i}].value`),
    );
    records(pt.when).forEach((w, i) => texts.push(...stringsIn(w, `${base}.when[${i}]`)));
    for (const [path, text] of texts) {
      for (const ref of variableReferences(text)) {
        const [first, second, third] = ref.parts;
        if (ref.root === "params") {
          if (first === undefined || !paramNames.has(first)) {
            v.add(
              path,
              `${ref.expression} refers to param "${first}", which the Pipeline does not declare`,
            );
          }
        } else if (ref.root === "context") {
          const known = first === undefined ? undefined : PIPELINE_CONTEXT.get(first);
          if (known === undefined || second === undefined || !known.has(second)) {
            v.add(
              path,
              `${ref.expression} is not a Pipeline context variable: context.pipelineRun.` +
                `name|namespace|uid, context.pipeline.name, context.pipelineTask.retries`,
            );
          }
        } else if (ref.root === "tasks") {
          const isStatus =
            (first === "status" && second === undefined) ||
            (second === "status" && third === undefined);
          if (isStatus) {
            if (!isFinally) {
              v.add(
                path,
                `${ref.expression}: pipeline tasks can not refer to execution status of any ` +
                  `other pipeline task or aggregate status of tasks (only finally tasks can)`,
              );
            } else if (first !== "status" && !dagNames.has(first)) {
              v.add(
                path,
                `${ref.expression}: pipeline task ${first} is not defined in the pipeline`,
              );
            }
            continue;
          }
          if (second !== "results" || first === undefined || third === undefined) {
            v.add(path, `${ref.expression} is not a task result reference ($(tasks.T.results.R))`);
            continue;
          }
          if (isFinally && finallyNames.has(first)) {
            v.add(
              path,
              `invalid task result reference, final task has task result reference from a final ` +
                `task ${first}`,
            );
          } else if (!dagNames.has(first)) {
            v.add(
              path,
              `${ref.expression} refers to task "${first}", which is not in the pipeline`,
            );
          } else {
            dependsOn.push(first);
            const facts = factsOfPipelineTask.get(first);
            if (facts !== undefined && !facts.results.has(third)) {
              v.add(
                path,
                `${ref.expression} refers to result "${third}", which the Task of "${first}" ` +
                  `does not declare`,
              );
            }
          }
        }
      }
    }
    return dependsOn;
  };
  const edges = new Map<string, string[]>();
  dagTasks.forEach((pt, i) => {
    const name = str(pt.name) ?? "";
    const runAfter = (Array.isArray(pt.runAfter) ? pt.runAfter : []).filter(
      (after): after is string => typeof after === "string" && dagNames.has(after),
    );
    edges.set(name, [...runAfter, ...checkVariables(pt, `spec.tasks[${i}]`, false)]);
  });
  finallyTasks.forEach((pt, i) => checkVariables(pt, `spec.finally[${i}]`, true));

  const cycle = findCycle(edges);
  if (cycle !== undefined) v.add("spec.tasks", `the tasks form a cycle: ${cycle.join(" -> ")}`);

  // Pipeline results: task result references of existing tasks.
  records(spec.results).forEach((r, i) => {
    const path = `spec.results[${i}].value`;
    const refs = stringsIn(r.value, path).flatMap(([, text]) => variableReferences(text));
    if (refs.length === 0) {
      v.add(
        path,
        "expected pipeline results to be task result expressions but no expressions were found",
      );
    }
    for (const ref of refs) {
      const [first, second, third] = ref.parts;
      const source = ref.root === "finally" ? finallyNames : dagNames;
      if (
        (ref.root !== "tasks" && ref.root !== "finally") ||
        second !== "results" ||
        third === undefined
      ) {
        v.add(path, `${ref.expression} is not a task result expression`);
      } else if (first === undefined || !source.has(first)) {
        v.add(path, `${ref.expression}: referencing a nonexistent task "${first}"`);
      } else {
        const facts = factsOfPipelineTask.get(first);
        if (facts !== undefined && !facts.results.has(third)) {
          v.add(path, `${ref.expression}: Task of "${first}" declares no result "${third}"`);
        }
      }
    }
  });

  return [...violations, ...v.list];
}

/** A dependency cycle among pipeline tasks, as a path of names, or undefined. */
function findCycle(edges: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === "done") return undefined;
    if (state.get(node) === "visiting") return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, "visiting");
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle !== undefined) return cycle;
    }
    stack.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of edges.keys()) {
    const cycle = visit(node);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}
