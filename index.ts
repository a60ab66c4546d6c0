// Wiring only: config -> provider -> components -> stack outputs. Decisions live in config.ts
// and in the pure modules beside each component.
import * as github from "@pulumi/github";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BuildPipeline } from "./components/buildPipeline";
import { CanaryRoute } from "./components/canaryRoute";
import { GitHubTrigger } from "./components/githubTrigger";
import { kubernetesProviderArgs } from "./components/kubernetesProvider";
import { pipelineResourceNames } from "./components/pipelineContract";
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

// Build on push: the pipeline when there is somewhere to push, the trigger when GitHub is set
// (config.ts refuses github without image and webhook).
const pipeline =
  config.image !== undefined
    ? new BuildPipeline(
        config.app,
        {
          app: config.app,
          namespace,
          namespaceName: config.namespace,
          imageRepository: config.image.repository,
          insecureRegistry: config.image.insecureRegistry,
          contextDir: config.source.contextDir,
          dockerfile: config.source.dockerfile,
          stepImages: config.stepImages,
          registryCredentials: config.registryCredentials,
          statusToken: config.testerGithubToken,
        },
        { provider },
      )
    : undefined;

const trigger =
  config.github !== undefined && config.webhook !== undefined && pipeline !== undefined
    ? new GitHubTrigger(
        config.app,
        {
          app: config.app,
          namespace,
          namespaceName: config.namespace,
          github: config.github,
          webhook: config.webhook,
          pipelineRunServiceAccountName: pipelineResourceNames(config.app).pipelineServiceAccount,
          ...(config.registryCredentials !== undefined
            ? { dockerConfigSecretName: pipelineResourceNames(config.app).registrySecret }
            : {}),
          dependsOn: [pipeline],
        },
        {
          providers: [
            provider,
            new github.Provider("github", {
              owner: config.github.owner,
              token: config.github.token,
            }),
          ],
        },
      )
    : undefined;

export const url = route.url;
export const urls = route.urls;
export const traffic = route.traffic;
export const stableRevision = config.stableRevision ?? null;
export const candidateRevision = config.candidateRevision ?? null;
export const canaryPercent = config.canaryPercent;
export const pipelineName = pipeline?.pipelineName ?? null;
export const webhookUrl = trigger?.webhookUrl ?? null;
