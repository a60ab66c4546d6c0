// What Tekton Pipelines (v1.15.0) makes of a PipelineRun before any step runs: for each pipeline
// task, the TaskRun's params and workspaces, and each step's environment with Tekton's variables
// substituted. Only the rules the step programs depend on are modelled, each after the upstream
// file that implements it; anything else found in the manifests is refused, never guessed.
//
// - Params: a PipelineRun param overrides the Pipeline's default; a param without either stops
//   the run (pkg/reconciler/pipelinerun/resources/validate_params.go). A pipeline task's param
//   values get $(params.X) and $(tasks.T.results.R) replaced (apply.go ApplyParameters,
//   ApplyTaskResults); the Task's defaults fill what the pipeline task does not pass
//   (taskrun/resources/apply.go getTaskParameters).
// - Workspaces: a pipeline task's binding of an optional Pipeline workspace that the PipelineRun
//   does not bind is dropped (pipelinerun.go getTaskrunWorkspaces: "optional workspace not
//   bound"), so the TaskRun leaves the Task's optional workspace unbound. In the TaskRun,
//   $(workspaces.W.bound) is "true" for every bound workspace, whatever its volume type (an
//   emptyDir included), and "false" otherwise; $(workspaces.W.path) is the mount path
//   (/workspace/W unless mountPath says otherwise) when bound and "" when not
//   (taskrun/resources/apply.go applyWorkspaceMountPath, ApplyWorkspaces).
// - $(results.R.path) is /tekton/results/R; $(context.taskRun.namespace) the run's namespace;
//   $(context.pipelineRun.name) in a pipeline task's params the PipelineRun's name.
import type { Manifest } from "../../common/json";

/** Where a bound workspace's volume comes from, as the PipelineRun binds it. */
export type WorkspaceVolume =
  | { readonly kind: "volumeClaimTemplate" }
  | { readonly kind: "emptyDir" }
  | { readonly kind: "secret"; readonly secretName: string; readonly items?: readonly Item[] }
  | { readonly kind: "configMap"; readonly name: string; readonly items?: readonly Item[] }
  | { readonly kind: "persistentVolumeClaim"; readonly claimName: string };
export interface Item {
  readonly key: string;
  readonly path: string;
}

export interface ResolvedWorkspace {
  readonly bound: boolean;
  /** The path the Task sees ("" when unbound). */
  readonly path: string;
  readonly volume?: WorkspaceVolume;
}

export interface ResolvedStep {
  readonly name: string;
  readonly image: string;
  /** Literal env values, variables substituted; secretKeyRef values as `secret:<name>/<key>`. */
  readonly env: Readonly<Record<string, string>>;
  readonly script: string;
}

export interface ResolvedTaskRun {
  readonly pipelineTask: string;
  readonly taskName: string;
  readonly params: Readonly<Record<string, string>>;
  readonly workspaces: Readonly<Record<string, ResolvedWorkspace>>;
  readonly steps: readonly ResolvedStep[];
}

export interface ResolveOptions {
  /** Namespace the PipelineRun runs in ($(context.taskRun.namespace)). */
  readonly namespace: string;
  /** Results of earlier tasks, for $(tasks.T.results.R): task -> result -> value. */
  readonly taskResults?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** The PipelineRun's name when it has only a generateName (Tekton's would be generated). */
  readonly pipelineRunName?: string;
  /** $(tasks.status), which finally tasks see. Default "Succeeded". */
  readonly tasksStatus?: string;
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function list(value: unknown, where: string): Obj[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every(isObj)) throw new Error(`${where} is not a list`);
  return value;
}
function str(value: unknown, where: string): string {
  if (typeof value !== "string") throw new Error(`${where} is not a string`);
  return value;
}
function spec(manifest: Manifest): Obj {
  if (!isObj(manifest.spec)) throw new Error(`${manifest.kind} has no spec`);
  return manifest.spec;
}
function nameOf(manifest: Manifest): string {
  return str(manifest.metadata?.name, `${manifest.kind}.metadata.name`);
}

const VARIABLE = /\$\(([^()]+)\)/g;

/** Replaces every `$(...)` from `values`; a variable it does not know is an error. */
function substitute(text: string, values: ReadonlyMap<string, string>, where: string): string {
  return text.replace(VARIABLE, (whole, name: string) => {
    const value = values.get(name.trim());
    if (value === undefined) throw new Error(`${where}: ${whole} is not resolvable here`);
    return value;
  });
}

function volumeOf(binding: Obj, where: string): WorkspaceVolume {
  const items = (source: unknown): Item[] | undefined =>
    isObj(source) && Array.isArray(source.items)
      ? list(source.items, `${where}.items`).map((item) => ({
          key: str(item.key, `${where}.items.key`),
          path: str(item.path, `${where}.items.path`),
        }))
      : undefined;
  if (isObj(binding.volumeClaimTemplate)) return { kind: "volumeClaimTemplate" };
  if (isObj(binding.emptyDir)) return { kind: "emptyDir" };
  if (isObj(binding.secret)) {
    const its = items(binding.secret);
    return {
      kind: "secret",
      secretName: str(binding.secret.secretName, `${where}.secret.secretName`),
      ...(its !== undefined ? { items: its } : {}),
    };
  }
  if (isObj(binding.configMap)) {
    const its = items(binding.configMap);
    return {
      kind: "configMap",
      name: str(binding.configMap.name, `${where}.configMap.name`),
      ...(its !== undefined ? { items: its } : {}),
    };
  }
  if (isObj(binding.persistentVolumeClaim)) {
    return {
      kind: "persistentVolumeClaim",
      claimName: str(binding.persistentVolumeClaim.claimName, `${where}.claimName`),
    };
  }
  throw new Error(`${where}: a workspace binding of a kind this resolver does not model`);
}

/** The TaskRuns Tekton makes of `pipelineRun`, in the Pipeline's task order (finally last). */
export function resolvePipelineRun(
  pipelineRun: Manifest,
  pipeline: Manifest,
  tasks: readonly Manifest[],
  options: ResolveOptions,
): ResolvedTaskRun[] {
  const runSpec = spec(pipelineRun);
  const pipelineSpec = spec(pipeline);
  if (runSpec.pipelineSpec !== undefined) throw new Error("embedded pipelineSpec is not modelled");
  const ref = isObj(runSpec.pipelineRef) ? runSpec.pipelineRef : {};
  if (ref.name !== nameOf(pipeline)) {
    throw new Error(`the PipelineRun refers to ${String(ref.name)}, not ${nameOf(pipeline)}`);
  }

  // Pipeline params: the run's value, else the Pipeline's default, else the run cannot start.
  const given = new Map(
    list(runSpec.params, "PipelineRun.spec.params").map((p) => [
      str(p.name, "param name"),
      str(p.value, `param ${String(p.name)}`),
    ]),
  );
  const pipelineValues = new Map<string, string>();
  for (const declared of list(pipelineSpec.params, "Pipeline.spec.params")) {
    const name = str(declared.name, "Pipeline param name");
    const value = given.get(name) ?? (declared.default as string | undefined);
    if (value === undefined) throw new Error(`PipelineRun: param ${name} has no value`);
    pipelineValues.set(`params.${name}`, value);
  }
  for (const name of given.keys()) {
    if (!pipelineValues.has(`params.${name}`)) {
      throw new Error(`PipelineRun: param ${name} is not declared by the Pipeline`);
    }
  }
  const runName = pipelineRun.metadata?.name ?? options.pipelineRunName;
  if (typeof runName === "string") pipelineValues.set("context.pipelineRun.name", runName);
  for (const [task, results] of Object.entries(options.taskResults ?? {})) {
    for (const [result, value] of Object.entries(results)) {
      pipelineValues.set(`tasks.${task}.results.${result}`, value);
    }
  }

  // Pipeline workspaces bound by the run.
  const runBindings = new Map(
    list(runSpec.workspaces, "PipelineRun.spec.workspaces").map((w) => [
      str(w.name, "workspace name"),
      volumeOf(w, `PipelineRun workspace ${String(w.name)}`),
    ]),
  );
  for (const declared of list(pipelineSpec.workspaces, "Pipeline.spec.workspaces")) {
    const name = str(declared.name, "Pipeline workspace name");
    if (!runBindings.has(name) && declared.optional !== true) {
      throw new Error(`PipelineRun: non-optional workspace ${name} is not bound`);
    }
  }

  const taskByName = new Map(tasks.map((t) => [nameOf(t), t]));
  const pipelineTasks = [
    ...list(pipelineSpec.tasks, "Pipeline.spec.tasks"),
    ...list(pipelineSpec.finally, "Pipeline.spec.finally"),
  ];
  return pipelineTasks.map((pipelineTask) => {
    const ptName = str(pipelineTask.name, "pipeline task name");
    const taskRef = isObj(pipelineTask.taskRef) ? pipelineTask.taskRef : {};
    const task = taskByName.get(String(taskRef.name));
    if (task === undefined) throw new Error(`${ptName}: no Task named ${String(taskRef.name)}`);
    const taskSpec = spec(task);

    const passed = new Map<string, string>();
    for (const p of list(pipelineTask.params, `${ptName}.params`)) {
      const name = str(p.name, `${ptName} param name`);
      const values = new Map(pipelineValues);
      values.set("tasks.status", options.tasksStatus ?? "Succeeded");
      passed.set(name, substitute(str(p.value, `${ptName}.${name}`), values, `${ptName}.${name}`));
    }
    const params: Record<string, string> = {};
    for (const declared of list(taskSpec.params, `Task ${nameOf(task)} params`)) {
      const name = str(declared.name, "Task param name");
      const value = passed.get(name) ?? (declared.default as string | undefined);
      if (value === undefined) throw new Error(`${ptName}: Task param ${name} has no value`);
      params[name] = value;
    }

    const taskBindings = new Map(
      list(pipelineTask.workspaces, `${ptName}.workspaces`).map((w) => [
        str(w.name, "task workspace"),
        str(w.workspace, "pipeline workspace"),
      ]),
    );
    const workspaces: Record<string, ResolvedWorkspace> = {};
    for (const declared of list(taskSpec.workspaces, `Task ${nameOf(task)} workspaces`)) {
      const name = str(declared.name, "Task workspace name");
      const pipelineWorkspace = taskBindings.get(name);
      const volume =
        pipelineWorkspace !== undefined ? runBindings.get(pipelineWorkspace) : undefined;
      if (volume === undefined && declared.optional !== true) {
        throw new Error(`${ptName}: non-optional workspace ${name} is not bound`);
      }
      workspaces[name] =
        volume === undefined
          ? { bound: false, path: "" }
          : {
              bound: true,
              path:
                typeof declared.mountPath === "string" ? declared.mountPath : `/workspace/${name}`,
              volume,
            };
    }

    const values = new Map<string, string>([
      ["context.taskRun.namespace", options.namespace],
      ...Object.entries(params).map(([k, v]): [string, string] => [`params.${k}`, v]),
      ...Object.entries(workspaces).flatMap(([k, w]): [string, string][] => [
        [`workspaces.${k}.bound`, String(w.bound)],
        [`workspaces.${k}.path`, w.path],
      ]),
      ...list(taskSpec.results, "results").map((r): [string, string] => [
        `results.${str(r.name, "result name")}.path`,
        `/tekton/results/${String(r.name)}`,
      ]),
    ]);
    const steps = list(taskSpec.steps, `Task ${nameOf(task)} steps`).map((step) => {
      const stepName = str(step.name, "step name");
      const env: Record<string, string> = {};
      for (const variable of list(step.env, `${stepName}.env`)) {
        const key = str(variable.name, "env name");
        if (typeof variable.value === "string") {
          env[key] = substitute(variable.value, values, `${nameOf(task)}/${stepName} env ${key}`);
        } else if (isObj(variable.valueFrom) && isObj(variable.valueFrom.secretKeyRef)) {
          const ref = variable.valueFrom.secretKeyRef;
          env[key] = `secret:${String(ref.name)}/${String(ref.key)}`;
        } else {
          throw new Error(`${stepName}: env ${key} of a form this resolver does not model`);
        }
      }
      return {
        name: stepName,
        image: str(step.image, `${stepName}.image`),
        env,
        script: str(step.script, `${stepName}.script`),
      };
    });
    return { pipelineTask: ptName, taskName: nameOf(task), params, workspaces, steps };
  });
}

/** Tekton's `coschedule` feature flag (config/config-feature-flags.yaml; default "workspaces"). */
export type Coschedule = "workspaces" | "pipelineruns" | "isolate-pipelinerun" | "disabled";

/**
 * Whether the claims a PipelineRun's volumeClaimTemplates make are deleted when the run
 * completes (pipeline pkg/reconciler/pipelinerun/pipelinerun.go, affinity_assistant.go): with
 * the affinity assistant per PipelineRun the claims belong to its StatefulSet and go with it;
 * per workspace (the default) Tekton deletes them only when the run carries
 * `tekton.dev/auto-cleanup-pvc: "true"` (AutoCleanupPVCAnnotation); with the assistant disabled
 * they are owned by the PipelineRun and live as long as that object, which is kept for its logs
 * and results until something prunes it.
 */
export function claimsDeletedOnCompletion(
  pipelineRun: Manifest,
  coschedule: Coschedule = "workspaces",
): boolean {
  const annotations = (pipelineRun.metadata?.annotations ?? {}) as Record<string, unknown>;
  switch (coschedule) {
    case "pipelineruns":
    case "isolate-pipelinerun":
      return true;
    case "workspaces":
      return annotations["tekton.dev/auto-cleanup-pvc"] === "true";
    case "disabled":
      return false;
  }
}
