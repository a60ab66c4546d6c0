import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PolicyRule, rbacProblems, roleRules } from "./rbac";

/**
 * A ServiceAccount with a namespaced Role of exactly `rules` bound to it, all three named
 * `accountName`, as children of `parent`. Refuses rules with wildcards before creating anything.
 * Returns the three resources, for dependsOn.
 */
export function serviceAccountWithRole(
  parent: pulumi.Resource,
  name: string,
  accountName: string,
  rules: readonly PolicyRule[],
  namespace: pulumi.Input<string>,
): pulumi.Resource[] {
  const problems = rbacProblems(rules, "namespace");
  if (problems.length > 0) {
    throw new pulumi.ResourceError(`Role ${accountName}: ${problems.join("; ")}`, parent);
  }
  const account = new k8s.core.v1.ServiceAccount(
    name,
    { metadata: { name: accountName, namespace } },
    { parent },
  );
  const role = new k8s.rbac.v1.Role(
    name,
    { metadata: { name: accountName, namespace }, rules: roleRules(rules) },
    { parent },
  );
  const binding = new k8s.rbac.v1.RoleBinding(
    name,
    {
      metadata: { name: accountName, namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: accountName },
      subjects: [{ kind: "ServiceAccount", name: accountName, namespace }],
    },
    { parent, dependsOn: [account, role] },
  );
  return [account, role, binding];
}
