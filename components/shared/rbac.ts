// The stack's RBAC, as data, and the rules it must keep: checked by the components before any
// Role is created, and by the tests on everything the stack registers.

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

/**
 * What the pipeline's deploy step does: apply the Knative Configuration, watch Revisions, and
 * read its own PipelineRun, whose creation time orders the deploys (names are generated, so the
 * get cannot be limited by resourceNames).
 */
export const PIPELINE_RULES: readonly PolicyRule[] = Object.freeze([
  {
    apiGroups: ["serving.knative.dev"],
    resources: ["configurations"],
    verbs: ["get", "create", "patch"],
  },
  { apiGroups: ["serving.knative.dev"], resources: ["revisions"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["tekton.dev"], resources: ["pipelineruns"], verbs: ["get"] },
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

/** Triggers' own namespaced EventListener permissions, bound with a RoleBinding. */
export const EVENT_LISTENER_ROLES_CLUSTER_ROLE = "tekton-triggers-eventlistener-roles";

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
): { apiGroups: string[]; resources: string[]; verbs: string[] }[] {
  return rules.map((rule) => ({
    apiGroups: [...rule.apiGroups],
    resources: [...rule.resources],
    verbs: [...rule.verbs],
  }));
}
