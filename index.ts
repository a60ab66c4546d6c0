// Wiring only: config -> provider -> components -> stack outputs. Decisions live in config.ts
// and in the pure modules beside each component.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CanaryRoute } from "./components/canaryRoute";
import { kubernetesProviderArgs } from "./components/kubernetesProvider";
import { candidateGateMode } from "./components/revisionGate";
import { loadConfig } from "./config";

const config = loadConfig();

const provider = new k8s.Provider("kubernetes", kubernetesProviderArgs(config));

const namespace = config.createNamespace
  ? new k8s.core.v1.Namespace(
      "namespace",
      {
        metadata: {
          name: config.namespace,
          labels: { "app.kubernetes.io/part-of": "canary-release" },
        },
      },
      { provider, protect: config.protect },
    ).metadata.name
  : config.namespace;

const gate = candidateGateMode({
  verifyCandidate: config.verifyCandidate,
  canaryPercent: config.canaryPercent,
  renderOnly: config.render !== undefined,
});
if (gate.warning !== undefined) pulumi.log.warn(gate.warning);

const route = new CanaryRoute(
  config.app,
  {
    app: config.app,
    namespace,
    domain: config.domain,
    stableRevision: config.stableRevision,
    candidateRevision: config.candidateRevision,
    canaryPercent: config.canaryPercent,
    verifyCandidate: gate.enabled,
    protect: config.protect,
  },
  { provider },
);

export const url = route.url;
export const urls = route.urls;
export const traffic = route.traffic;
export const stableRevision = config.stableRevision ?? null;
export const candidateRevision = config.candidateRevision ?? null;
export const canaryPercent = config.canaryPercent;
