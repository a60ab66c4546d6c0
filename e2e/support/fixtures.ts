// What the real-tier suites start from: the committed stacks as the tier runs them, the
// Revisions the pipeline would have made, a `pulumi up` with the missing controllers played,
// and the Route read back from the API server.
import { STAND_IN_SECRETS } from "../../conformance/programRunner";
import type { TrafficTarget } from "../../common/traffic";
import { main, openCluster, openPulumiStack, type CliDeps } from "../../automation";
import { preflightOk } from "../../test/support/analysisStubs";
import { kubectl } from "../../toolchain/controlPlane";
import { playControllers } from "./controllers";
import { Kube } from "./kube";
import { createNamespace, createRevision, RevisionState } from "./objects";
import { RealTier, StackProject } from "./realTier";

// The committed prod file is a fresh start; a suite that needs a canary in progress passes this
// to committedStack("prod", …).
export { PROD_CANARY_IN_PROGRESS } from "../../test/support/prodStack";

type SecretKey = "webhookSecret" | "registryCredentials" | "testerGithubToken";

/** Stand-ins for the named stack secrets, as `pulumi config set --secret` takes them. */
export function standInSecrets(...keys: SecretKey[]): Record<string, string> {
  return Object.fromEntries(
    keys.map((key) => [`canary-release:${key}`, STAND_IN_SECRETS[`canary-release:${key}`]]),
  );
}

/**
 * A committed stack file's config with GitHub's webhook left to the user (the tier has no
 * github:token), then `changes` by full key; an undefined value removes the key.
 */
export function committedStack(
  stack: string,
  changes: Readonly<Record<string, unknown>> = {},
): Record<string, unknown> {
  const config = StackProject.committedConfig(stack);
  const result: Record<string, unknown> = {
    ...config,
    "canary-release:github": {
      ...(config["canary-release:github"] as object),
      registerWebhook: false,
    },
  };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete result[key];
    else result[key] = value;
  }
  return result;
}

/** A namespace with Revisions of `app`, each in the state given (default: Ready, passed). */
export async function namespaceWithRevisions(
  kube: Kube,
  namespace: string,
  app: string,
  revisions: Readonly<Record<string, RevisionState>>,
): Promise<void> {
  await createNamespace(kube, namespace);
  for (const [name, state] of Object.entries(revisions)) {
    await createRevision(kube, namespace, name, app, state);
  }
}

/**
 * Runs `pulumi <args>` (default `up --yes`) while the controllers the provider waits for are
 * played; returns the CLI's output, and throws with it on failure.
 */
export async function withControllers(
  tier: RealTier,
  project: StackProject,
  args: readonly string[] = ["up", "--yes", "--non-interactive"],
): Promise<string> {
  const controllers = playControllers(new Kube(tier.plane, tier.plane.controllerToken));
  try {
    return await project.ok(args);
  } finally {
    await controllers.stop();
  }
}

/** The Route's `spec.traffic`, read back with kubectl. */
export function routeTraffic(tier: RealTier, namespace: string, name: string): TrafficTarget[] {
  const route = JSON.parse(
    kubectl(tier.plane, tier.toolchain, [
      "get",
      "route.serving.knative.dev",
      name,
      "-n",
      namespace,
      "-o",
      "json",
    ]),
  ) as { spec: { traffic: TrafficTarget[] } };
  return route.spec.traffic;
}

/**
 * The committed dev stack as app `app` in namespace `app` (no platform install, GitHub's webhook
 * left to the user), with `changes`, deployed with the missing controllers played.
 */
export async function deployDevStack(
  tier: RealTier,
  app: string,
  changes: Readonly<Record<string, unknown>> = {},
): Promise<StackProject> {
  const project = await StackProject.create(
    tier,
    "dev",
    committedStack("dev", {
      "canary-release:app": app,
      "canary-release:namespace": app,
      "canary-release:platform": { install: false },
      ...changes,
    }),
    standInSecrets("webhookSecret"),
  );
  await withControllers(tier, project, ["up", "--yes", "--skip-preview", "--non-interactive"]);
  return project;
}

/**
 * A list a suite's tests push stoppers onto (processes, players, servers); after each test they
 * run in reverse order, however it ended, so a failed test leaves nothing running.
 */
export function stopAfterEach(): (() => unknown)[] {
  const stoppers: (() => unknown)[] = [];
  afterEach(async () => {
    for (let stop = stoppers.pop(); stop !== undefined; stop = stoppers.pop()) await stop();
  });
  return stoppers;
}

/** What one `canary` run printed, and its exit code. */
export interface CanaryRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `canary <args> --stack <stack>` in this process as the bin would, with the tier's Pulumi
 * environment and its kubeconfig (the stacks set no kubernetes:kubeconfig: their provider reads
 * $KUBECONFIG, and so does the command). `deps` replaces the analysis, the clock and the rest.
 */
export async function runCanary(
  tier: RealTier,
  project: StackProject,
  stack: string,
  args: readonly string[],
  deps: Partial<CliDeps> = {},
): Promise<CanaryRun> {
  const env = tier.env;
  const out = { stdout: "", stderr: "" };
  const code = await main([...args, "--stack", stack], {
    cwd: project.dir,
    stdout: (text) => (out.stdout += text),
    stderr: (text) => (out.stderr += text),
    openStack: (open) => openPulumiStack({ ...open, envVars: env }),
    openCluster: (target) => openCluster({ kubeconfig: env.KUBECONFIG, ...target }),
    analyse: async () => ({ verdict: "inconclusive", reason: "no analysis in this test" }),
    preflight: preflightOk,
    sleep: async () => undefined,
    now: () => new Date(),
    ...deps,
  });
  return { code, ...out };
}

/**
 * Sets `project`'s stack to record its canaries on a stand-in GitHub at `apiUrl`, in
 * acme/`repository`, with `token` as a real secret (`pulumi config set --secret`), and the
 * build-on-push keys deployments build on (the webhook left to the user).
 */
export async function recordDeploymentsOn(
  project: StackProject,
  repository: string,
  apiUrl: string,
  token: string,
): Promise<void> {
  for (const [key, value] of [
    ["github.owner", "acme"],
    ["github.repository", repository],
    ["github.registerWebhook", "false"],
    ["image.repository", `registry.example.com/acme/${repository}`],
    ["webhook.host", "hooks.example.com"],
    ["webhook.allowPlainHttp", "true"],
    ["githubDeployments.apiUrl", apiUrl],
  ]) {
    await project.ok(["config", "set", "--path", `canary-release:${key}`, value]);
  }
  await project.ok(["config", "set", "--secret", "webhookSecret", "s".repeat(32)]);
  await project.ok(["config", "set", "--secret", "githubDeploymentsToken", token]);
}
