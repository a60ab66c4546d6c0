// Limits RBAC cannot express, for one ServiceAccount in one namespace: a ValidatingAdmission-
// Policy (GA since Kubernetes 1.30) that applies only to that account's requests, bound to the
// namespace only. RBAC says which verbs; the guard says which objects, where names are made at
// run time or the object's content matters (an inline pipelineSpec, a label).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Manifest } from "../../common/json";

export interface AdmissionGuard {
  /** Cluster-scoped: give the namespace and the app in it. */
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** What the guard watches, e.g. `{apiGroups: ["tekton.dev"], resources: ["pipelineruns"]}`. */
  readonly apiGroup: string;
  readonly resource: string;
  readonly operations: readonly ("CREATE" | "UPDATE" | "DELETE")[];
  /** A CEL expression over `object`, `oldObject` and `request` that must be true. */
  readonly expression: string;
  /** What the API server answers when it is not. */
  readonly message: string;
}

/** The guard's ValidatingAdmissionPolicy and its binding, as manifests. */
export function admissionGuardManifests(guard: AdmissionGuard): [Manifest, Manifest] {
  const user = `system:serviceaccount:${guard.namespace}:${guard.serviceAccount}`;
  return [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: guard.name },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: [guard.apiGroup],
              apiVersions: ["*"],
              operations: [...guard.operations],
              resources: [guard.resource],
            },
          ],
        },
        matchConditions: [
          { name: "the-service-account", expression: `request.userInfo.username == '${user}'` },
        ],
        validations: [{ expression: guard.expression, message: guard.message }],
      },
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: guard.name },
      spec: {
        policyName: guard.name,
        validationActions: ["Deny"],
        matchResources: {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": guard.namespace } },
        },
      },
    },
  ];
}

/** Registers the guard as children of `parent`; returns both, to order other children after. */
export function admissionGuardResources(
  parent: pulumi.Resource,
  name: string,
  guard: AdmissionGuard,
): pulumi.Resource[] {
  const [policyManifest, bindingManifest] = admissionGuardManifests(guard);
  const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
    name,
    policyManifest as k8s.admissionregistration.v1.ValidatingAdmissionPolicyArgs,
    { parent },
  );
  const binding = new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
    name,
    bindingManifest as k8s.admissionregistration.v1.ValidatingAdmissionPolicyBindingArgs,
    { parent, dependsOn: [policy] },
  );
  return [policy, binding];
}
