// Plain Kubernetes manifests as the pure builders return them, and the one change components
// make before registering them.
import type * as k8s from "@pulumi/kubernetes";
import type { Manifest } from "../../common/json";

export type { Manifest };

/**
 * The manifest in `namespace`, as a custom resource's arguments. (A Namespace the stack creates
 * is waited for through the component's dependsOn, not through this value.)
 */
export function withNamespace(
  manifest: Manifest,
  namespace: string,
): k8s.apiextensions.CustomResourceArgs {
  return { ...manifest, metadata: { ...(manifest.metadata ?? {}), namespace } };
}
