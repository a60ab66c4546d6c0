// The ConfigMap of in-cluster code as a Pulumi resource: the one way both the revision tester
// and the build pipeline register theirs (components/shared/inClusterCode.ts builds the manifest).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { CodeConfigMap } from "./inClusterCode";

/**
 * `manifest` registered as `name`, a child of `parent`, in `namespace` (it waits for a Namespace
 * the stack creates through its parent's dependsOn). Its name carries its content's hash: new
 * code is a replacement, never an edit.
 */
export function codeConfigMapResource(
  parent: pulumi.Resource,
  name: string,
  manifest: CodeConfigMap,
  namespace: string,
): k8s.core.v1.ConfigMap {
  return new k8s.core.v1.ConfigMap(
    name,
    {
      metadata: { ...manifest.metadata, namespace },
      immutable: manifest.immutable,
      data: manifest.data,
    },
    { parent },
  );
}
