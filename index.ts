// Wiring only: config -> provider -> components -> stack outputs. Decisions live in config.ts
// and in the pure modules beside each component.
import * as github from "@pulumi/github";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BuildPipeline } from "./components/build/buildPipeline";
import { CanaryRoute } from "./components/route/canaryRoute";
import { GitHubTrigger } from "./components/trigger/githubTrigger";
import { kubernetesProviderArgs } from "./components/shared/kubernetesProvider";
import { Platform } from "./components/platform/platform";
import { GITHUB_TOKEN_SECRET_KEY, pipelineResourceNames } from "./common/pipelineContract";
import { candidateGateMode, stableGateMode } from "./components/route/revisionGate";
import { tagVisibilityMode } from "./components/route/tagVisibility";
import { webhookRegistration } from "./components/trigger/webhookEntry";
import { RevisionTester } from "./components/tester/revisionTester";
import { loadConfig } from "./config";

const config = loadConfig();

const provider = new k8s.Provider("kubernetes", kubernetesProviderArgs(config));

// Tekton and Knative from pinned releases (dev clusters); every component below waits for the
// CRDs and webhooks of what it creates.
const platform = config.platform.install
  ? new Platform(
      "platform",
      {
        versions: config.platform.versions,
        domain: config.domain,
        tagHeaderRouting: config.platform.tagHeaderRouting,
      },
      { provider },
    )
  : undefined;

const createdNamespace = config.createNamespace
  ? new k8s.core.v1.Namespace(
      "namespace",
      {
        metadata: {
          name: config.namespace,
          labels: { "app.kubernetes.io/part-of": "canary-release" },
        },
      },
      { provider, protect: config.protect },
    )
  : undefined;
// Components take the namespace by name and order after a namespace the stack creates through
// their `dependsOn` option: their children wait for them, and are deleted before them.
const namespace = config.namespace;
const inNamespace: pulumi.Resource[] = createdNamespace !== undefined ? [createdNamespace] : [];

const gate = candidateGateMode({
  hasCandidate: config.candidateRevision !== undefined,
  verifyCandidate: config.verifyCandidate,
  canaryPercent: config.canaryPercent,
  renderOnly: config.render !== undefined,
  testerEnabled: config.tester.enabled,
  allowUntestedCandidate: config.allowUntestedCandidate,
});
if (gate.warning !== undefined) pulumi.log.warn(gate.warning);
const stableGate = stableGateMode({
  hasStable: config.stableRevision !== undefined,
  verifyCandidate: config.verifyCandidate,
  renderOnly: config.render !== undefined,
});
if (stableGate.warning !== undefined) pulumi.log.warn(stableGate.warning);

// The step guard compares with the traffic this stack last deployed: its own `traffic` output,
// read from the backend during preview (a stack never deployed has none). At 100 no step can be
// too large, so there is nothing to read.
const stepGuard =
  config.maxStepPercent < 100
    ? {
        maxStepPercent: config.maxStepPercent,
        allowLargeStep: config.allowLargeStep,
        deployedTraffic: new pulumi.StackReference("last-deployment", {
          name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
        }).getOutput("traffic"),
      }
    : undefined;

const visibility = tagVisibilityMode({
  publicTagUrls: config.publicTagUrls,
  renderOnly: config.render !== undefined,
});
if (visibility.warning !== undefined) pulumi.log.warn(visibility.warning);

const route = new CanaryRoute(
  config.app,
  {
    app: config.app,
    namespace,
    domain: config.domain,
    stableRevision: config.stableRevision,
    candidateRevision: config.candidateRevision,
    canaryPercent: config.canaryPercent,
    candidateGate: gate.gate,
    verifyStable: stableGate.read,
    ...(stepGuard !== undefined ? { stepGuard } : {}),
    clusterLocalTags: visibility.clusterLocal,
    protect: config.protect,
  },
  { provider, dependsOn: [...inNamespace, ...(platform?.readyFor("canaryRoute") ?? [])] },
);

// The commit-status token, shared by the build's and the tester's statuses.
const names = pipelineResourceNames(config.app);
const statusToken =
  config.testerGithubToken !== undefined
    ? new k8s.core.v1.Secret(
        "github-status-token",
        {
          metadata: { name: names.statusTokenSecret, namespace },
          type: "Opaque",
          stringData: { [GITHUB_TOKEN_SECRET_KEY]: config.testerGithubToken },
        },
        { provider, dependsOn: inNamespace },
      )
    : undefined;

if (config.tester.enabled) {
  new RevisionTester(
    config.app,
    {
      app: config.app,
      namespace,
      image: config.tester.image,
      path: config.tester.path,
      expectStatus: config.tester.expectStatus,
      expectBody: config.tester.expectBody,
      timeoutSeconds: config.tester.timeoutSeconds,
      ...(statusToken !== undefined
        ? { tokenSecretName: names.statusTokenSecret, tokenSecretKey: GITHUB_TOKEN_SECRET_KEY }
        : {}),
    },
    {
      provider,
      dependsOn: [
        ...inNamespace,
        ...(statusToken !== undefined ? [statusToken] : []),
        ...(platform?.readyFor("revisionTester") ?? []),
      ],
    },
  );
}

// Build on push: the pipeline when there is somewhere to push, the trigger when GitHub is set
// (config.ts refuses github without image, webhook and webhookSecret).
const pipeline =
  config.image !== undefined
    ? new BuildPipeline(
        config.app,
        {
          app: config.app,
          namespace,
          imageRepository: config.image.repository,
          insecureRegistry: config.image.insecureRegistry,
          contextDir: config.source.contextDir,
          dockerfile: config.source.dockerfile,
          stepImages: config.stepImages,
          registryCredentials: config.registryCredentials,
          statusTokenSecretName: statusToken !== undefined ? names.statusTokenSecret : undefined,
        },
        {
          provider,
          dependsOn: [
            ...inNamespace,
            ...(statusToken !== undefined ? [statusToken] : []),
            ...(platform?.readyFor("buildPipeline") ?? []),
          ],
        },
      )
    : undefined;

const registration = webhookRegistration(
  config.render !== undefined,
  config.github?.registerWebhook,
);
if (config.github !== undefined && registration.warning !== undefined) {
  pulumi.log.warn(registration.warning);
}
const githubToken = config.github?.token;
const trigger =
  config.github !== undefined &&
  config.webhook !== undefined &&
  config.webhookSecret !== undefined &&
  pipeline !== undefined
    ? new GitHubTrigger(
        config.app,
        {
          app: config.app,
          namespace,
          github: config.github,
          webhook: config.webhook,
          webhookSecret: config.webhookSecret,
          pipelineRunServiceAccountName: names.pipelineServiceAccount,
          ...(config.registryCredentials !== undefined
            ? { dockerConfigSecretName: names.registrySecret }
            : {}),
          registerWebhook: registration.register,
        },
        {
          // The trigger starts the Pipeline: it waits for it.
          dependsOn: [...inNamespace, pipeline, ...(platform?.readyFor("githubTrigger") ?? [])],
          providers: [
            provider,
            ...(registration.register && githubToken !== undefined
              ? [new github.Provider("github", { owner: config.github.owner, token: githubToken })]
              : []),
          ],
        },
      )
    : undefined;

export const url = route.url;
export const urls = route.urls;
// What is deployed: each waits for the Route's update, so a failed update leaves the last
// deployment's values in place (the step guard and `canary status` read them).
export const traffic = route.traffic;
export const stableRevision = route.traffic.apply(() => config.stableRevision ?? null);
export const candidateRevision = route.traffic.apply(() => config.candidateRevision ?? null);
export const canaryPercent = route.traffic.apply(() => config.canaryPercent);
export const candidateSmokeTest = route.candidateSmokeTest;
export const pipelineName = pipeline?.pipelineName ?? null;
export const webhookUrl = trigger?.webhookUrl ?? null;
