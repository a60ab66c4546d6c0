// Plain Kubernetes manifests as the pure builders return them, and the one change components
// make before registering them.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata?: Record<string, unknown>;
  [field: string]: unknown;
}

/**
 * The manifest with its namespace as an Input: when the stack creates the Namespace, the
 * resource then waits for it.
 */
export function withNamespace(
  manifest: Manifest,
  namespace: pulumi.Input<string>,
): k8s.apiextensions.CustomResourceArgs {
  return { ...manifest, metadata: { ...(manifest.metadata ?? {}), namespace } };
}
