// The stack's RBAC, as data, and the rules it must keep: checked by the components before any
// Role is created, and by the tests on everything the stack registers.

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  /** Only these objects. Kubernetes cannot limit `create` (nor list or watch) by name. */
  readonly resourceNames?: readonly string[];
}

/**
 * What the pipeline's deploy step calls (functions/pipeline/deploy-revision.js): it reads and
 * patches the app's own Configuration (creates it the first time: `create` cannot be limited
 * by name), polls the Revision it made with get, and reads its own PipelineRun, whose creation
 * time orders the deploys (PipelineRun names are generated: that get cannot be limited by name).
 */
export function pipelineRules(app: string): readonly PolicyRule[] {
  return Object.freeze([
    {
      apiGroups: ["serving.knative.dev"],
      resources: ["configurations"],
      verbs: ["get", "patch"],
      resourceNames: [app],
    },
    { apiGroups: ["serving.knative.dev"], resources: ["configurations"], verbs: ["create"] },
    { apiGroups: ["serving.knative.dev"], resources: ["revisions"], verbs: ["get"] },
    { apiGroups: ["tekton.dev"], resources: ["pipelineruns"], verbs: ["get"] },
  ]);
}

/**
 * What the EventListener's sink calls in its namespace (Tekton Triggers' sink, run for real by
 * e2e/tektonControllers.e2e.ts): its informers on the Triggers kinds (list is an informer's
 * fallback where the API server does not stream the initial list) and the PipelineRun it
 * creates. Upstream's tekton-triggers-eventlistener-roles, bound as is before, also let it
 * impersonate every ServiceAccount of the namespace (the tester's, which may patch Revisions,
 * included), create TaskRuns and PipelineResources, and read ConfigMaps; the sink calls none
 * of them for this stack's triggers (no trigger names a ServiceAccount to impersonate).
 */
export const EVENT_LISTENER_RULES: readonly PolicyRule[] = Object.freeze([
  {
    apiGroups: ["triggers.tekton.dev"],
    resources: [
      "eventlisteners",
      "triggerbindings",
      "triggertemplates",
      "triggers",
      "interceptors",
    ],
    verbs: ["get", "list", "watch"],
  },
  { apiGroups: ["tekton.dev"], resources: ["pipelineruns"], verbs: ["create"] },
]);

/**
 * What an EventListener reads cluster-wide. Upstream's tekton-triggers-eventlistener-clusterroles
 * also grants get/list/watch on every Secret in the cluster to the EventListener, an
 * internet-facing pod; it does not need them (the github interceptor, which checks signatures,
 * reads the webhook Secret with its own service account), so this narrower ClusterRole is bound
 * instead.
 */
export const EVENT_LISTENER_CLUSTER_RULES: readonly PolicyRule[] = Object.freeze([
  {
    apiGroups: ["triggers.tekton.dev"],
    resources: ["clusterinterceptors", "clustertriggerbindings"],
    verbs: ["get", "list", "watch"],
  },
]);

/**
 * Problems of a set of rules: no wildcard anywhere, and no cluster-scoped access to Secrets.
 * Empty when the rules are acceptable.
 */
export function rbacProblems(
  rules: readonly PolicyRule[],
  scope: "namespace" | "cluster",
): string[] {
  const problems: string[] = [];
  rules.forEach((rule, i) => {
    for (const field of ["apiGroups", "resources", "verbs"] as const) {
      if (rule[field].some((value) => value.includes("*"))) {
        problems.push(
          `rules[${i}].${field}: wildcards are not allowed (${rule[field].join(", ")})`,
        );
      }
    }
    if (scope === "cluster" && rule.resources.includes("secrets")) {
      problems.push(`rules[${i}].resources: no cluster-wide access to secrets`);
    }
  });
  return problems;
}

/** The rules as a Role's or ClusterRole's `rules` input (mutable copies of the frozen data). */
export function roleRules(
  rules: readonly PolicyRule[],
): { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[] {
  return rules.map((rule) => ({
    apiGroups: [...rule.apiGroups],
    resources: [...rule.resources],
    verbs: [...rule.verbs],
    ...(rule.resourceNames !== undefined ? { resourceNames: [...rule.resourceNames] } : {}),
  }));
}
