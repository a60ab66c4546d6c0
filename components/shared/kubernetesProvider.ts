import * as k8s from "@pulumi/kubernetes";
import type { CanaryConfig } from "../../config";

/**
 * Arguments of the stack's one explicit Kubernetes provider. An explicit provider does not read
 * `kubernetes:context` / `kubernetes:kubeconfig` by itself, so they are passed here; in render
 * mode they are left out on purpose, since rendering must work with no cluster at all.
 */
export function kubernetesProviderArgs(
  config: Pick<CanaryConfig, "render" | "kubernetes">,
): k8s.ProviderArgs {
  if (config.render !== undefined) {
    // Explicitly empty: the SDK fills an absent kubeconfig from $KUBECONFIG, and the provider
    // refuses any kubeconfig beside renderYamlToDirectory, so rendering failed in every shell
    // with KUBECONFIG set (found by the real tier).
    return { renderYamlToDirectory: config.render.directory, kubeconfig: "" };
  }
  return {
    ...(config.kubernetes.context !== undefined ? { context: config.kubernetes.context } : {}),
    ...(config.kubernetes.kubeconfig !== undefined
      ? { kubeconfig: config.kubernetes.kubeconfig }
      : {}),
  };
}
