// Every stack applied for real: the Pulumi CLI (file backend) runs the program against a real
// kube-apiserver with the upstream CRDs, and the API server must accept every object (schemas,
// CEL rules, RBAC objects). No controllers run: the test plays the two the provider waits for.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { STAND_IN_SECRETS } from "../conformance/programRunner";
import { kubectl } from "../toolchain/controlPlane";
import {
  committedStack,
  namespaceWithRevisions,
  PROD_CANARY_IN_PROGRESS,
  standInSecrets,
  withControllers,
} from "./support/fixtures";
import { createNamespace } from "./support/objects";
import { RealTier, StackProject, startRealTier, stopRealTier } from "./support/realTier";

/** Kubernetes resources of the stack's state that the API server does not have. */
async function missingFromServer(
  tier: RealTier,
  project: StackProject,
): Promise<{ count: number; missing: string[] }> {
  const resources = (await project.resources()).filter(
    (r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers:"),
  );
  const missing: string[] = [];
  let count = 0;
  for (const resource of resources) {
    if (resource.id === undefined) continue;
    const outputs = resource.outputs as { apiVersion?: string; kind?: string } | undefined;
    if (outputs?.kind === undefined) continue;
    count++;
    const [namespace, name] = resource.id.includes("/")
      ? resource.id.split("/")
      : [undefined, resource.id];
    const group = outputs.apiVersion?.includes("/") ? outputs.apiVersion.split("/")[0] : "";
    const kind = group === "" ? outputs.kind : `${outputs.kind}.${group}`;
    const args = ["get", kind, name, "-o", "name", ...(namespace ? ["-n", namespace] : [])];
    try {
      kubectl(tier.plane, tier.toolchain, args);
    } catch (error) {
      missing.push(`${resource.urn}: ${(error as Error).message}`);
    }
  }
  return { count, missing };
}

describe("every stack applied for real (pulumi up against a real kube-apiserver)", function () {
  let tier: RealTier | undefined;

  before(async function () {
    this.timeout(90 * 60 * 1000);
    tier = await startRealTier(this);
  });
  after(() => stopRealTier(tier));

  /** `pulumi up` (no preview) while the missing controllers are played. */
  function up(project: StackProject): Promise<string> {
    if (tier === undefined) throw new Error("no tier");
    return withControllers(tier, project, ["up", "--yes", "--skip-preview", "--non-interactive"]);
  }

  it("prod mid-canary: every resource created, and the API server holds each one", async () => {
    if (tier === undefined) throw new Error("no tier");
    await namespaceWithRevisions(tier.kube, "hello", "hello", {
      "hello-1a2b3c4": {},
      "hello-5d6e7f8": {},
    });
    const project = await StackProject.create(
      tier,
      "prod",
      committedStack("prod", PROD_CANARY_IN_PROGRESS),
      standInSecrets("webhookSecret", "registryCredentials", "testerGithubToken"),
    );
    const output = await up(project);
    if (process.env.E2E_VERBOSE) console.log(output);
    assert.match(output, /Resources:\s+\n?\s*\+ \d+ created/);
    const { count, missing } = await missingFromServer(tier, project);
    assert.ok(count > 25, `${count} Kubernetes objects checked`);
    assert.deepEqual(missing, []);
    // Applied as declared: a second preview against the live objects finds nothing to change.
    await project.ok(["preview", "--expect-no-changes", "--non-interactive", "--refresh"]);
    // The Route, read back from the API server, carries the configured split.
    const route = (await tier.kube.ok(
      "GET",
      "/apis/serving.knative.dev/v1/namespaces/hello/routes/hello",
    )) as { spec: { traffic: { tag: string; percent: number }[] } };
    assert.deepEqual(
      route.spec.traffic.map((t) => [t.tag, t.percent]),
      [
        ["stable", 80],
        ["candidate", 20],
        ["latest", 0],
      ],
    );
  });

  it("dev (platform.install false): the namespace, pipeline, trigger, tester and Route", async () => {
    if (tier === undefined) throw new Error("no tier");
    const project = await StackProject.create(
      tier,
      "dev",
      committedStack("dev", { "canary-release:platform": { install: false } }),
      standInSecrets("webhookSecret"),
    );
    const output = await up(project);
    if (process.env.E2E_VERBOSE) console.log(output);
    const { count, missing } = await missingFromServer(tier, project);
    assert.ok(count > 20, `${count} Kubernetes objects checked`);
    assert.deepEqual(missing, []);
    // Bootstrap: all traffic to the Configuration's latest revision, which the pipeline makes.
    const route = (await tier.kube.ok(
      "GET",
      "/apis/serving.knative.dev/v1/namespaces/hello-dev/routes/hello",
    )) as { spec: { traffic: unknown[] } };
    assert.deepEqual(route.spec.traffic, [
      { configurationName: "hello", latestRevision: true, percent: 100, tag: "latest" },
    ]);
  });

  it("full (github, webhook, image, tester, both tokens, registry credentials)", async () => {
    if (tier === undefined) throw new Error("no tier");
    const project = await StackProject.create(
      tier,
      "full",
      committedStack("dev", {
        "canary-release:app": "full",
        "canary-release:namespace": "full",
        "canary-release:platform": { install: false },
        "canary-release:github": {
          owner: "acme",
          repository: "full",
          branch: "release",
          registerWebhook: false,
        },
        "canary-release:webhook": {
          host: "full-hooks.example.com",
          ingressClassName: "nginx",
          clusterIssuer: "letsencrypt-prod",
        },
        "canary-release:image": { repository: "registry.example.com/acme/full" },
        "canary-release:source": { contextDir: "app", dockerfile: "Containerfile" },
        "canary-release:tester": { enabled: true, path: "/healthz", expectStatus: 204 },
      }),
      standInSecrets("webhookSecret", "registryCredentials", "testerGithubToken"),
    );
    await up(project);
    const { count, missing } = await missingFromServer(tier, project);
    assert.ok(count > 25, `${count} Kubernetes objects checked`);
    assert.deepEqual(missing, []);
    // The credentials reached the cluster as the pods will read them.
    const registry = (await tier.kube.ok(
      "GET",
      "/api/v1/namespaces/full/secrets/full-registry",
    )) as {
      type: string;
      data: Record<string, string>;
    };
    assert.equal(registry.type, "kubernetes.io/dockerconfigjson");
    assert.equal(
      Buffer.from(registry.data[".dockerconfigjson"], "base64").toString(),
      STAND_IN_SECRETS["canary-release:registryCredentials"],
    );
  });

  it("render mode: the rendered manifests are accepted by the API server (server-side dry run)", async () => {
    if (tier === undefined) throw new Error("no tier");
    await createNamespace(tier.kube, "rendered");
    const project = await StackProject.create(
      tier,
      "render",
      committedStack("prod", {
        ...PROD_CANARY_IN_PROGRESS,
        "canary-release:namespace": "rendered",
        "canary-release:render": { directory: "rendered" },
        // The step guard is not what this test is about; its self-StackReference on the file
        // backend once failed a first deployment here with "failed to load checkpoint: EOF"
        // (not reproduced in 24 later tries; see docs/development.md, "What the real engine showed").
        "canary-release:maxStepPercent": "100",
      }),
      standInSecrets("webhookSecret", "registryCredentials", "testerGithubToken"),
    );
    await up(project);
    const rendered = path.join(project.dir, "rendered");
    const files = fs.readdirSync(rendered, { recursive: true }) as string[];
    assert.ok(files.filter((f) => f.endsWith(".yaml")).length > 25, `${files.length} files`);
    const applied = kubectl(tier.plane, tier.toolchain, [
      "apply",
      "--server-side",
      "--dry-run=server",
      "--recursive",
      "-f",
      rendered,
    ]);
    assert.match(
      applied,
      /route\.serving\.knative\.dev\/hello serverside-applied \(server dry run\)/,
    );
    // Nothing was written: a dry run.
    const route = await tier.kube.request(
      "GET",
      "/apis/serving.knative.dev/v1/namespaces/rendered/routes/hello",
    );
    assert.equal(route.status, 404);
  });
});
