// What the Pulumi CLI does to the files and outputs a canary step relies on, observed against
// the real CLI and API server: comments in the stack file across `pulumi config set`, the stack
// outputs after an update the API server refuses, and `pulumi destroy` of a protected Route.
import { strict as assert } from "assert";
import * as fs from "fs";
import { parse as parseYaml } from "yaml";
import { prodStackYaml } from "../test/support/prodStack";
import {
  committedStack,
  namespaceWithRevisions,
  PROD_CANARY_IN_PROGRESS,
  standInSecrets,
  withControllers,
} from "./support/fixtures";
import { RealTier, StackProject, startRealTier, stopRealTier } from "./support/realTier";

describe("what the Pulumi CLI does to stack files and outputs (real CLI, real API server)", function () {
  let tier: RealTier | undefined;
  let project: StackProject;

  before(async function () {
    this.timeout(90 * 60 * 1000);
    tier = await startRealTier(this);
    await namespaceWithRevisions(tier.kube, "hello", "hello", {
      "hello-1a2b3c4": {},
      "hello-5d6e7f8": {},
    });
    project = await StackProject.create(
      tier,
      "prod",
      committedStack("prod", PROD_CANARY_IN_PROGRESS),
      standInSecrets("webhookSecret"),
    );
    await withControllers(tier, project);
  });
  after(() => stopRealTier(tier));

  it("pulumi config set keeps the stack file's comments and changes only the key's line", async () => {
    // The committed prod file mid-canary, comments and all, as the stack file (with this
    // stack's salt and secrets added by the CLI).
    const salted = fs.readFileSync(project.stackFile, "utf8");
    const committed = prodStackYaml(PROD_CANARY_IN_PROGRESS)
      .replace(/^config:\n/m, `${salted.match(/^encryptionsalt: .*\n/m)?.[0] ?? ""}config:\n`)
      .replace("kubernetes:context: prod", "kubernetes:context: canary-local");
    const document = parseYaml(salted) as { config: Record<string, unknown> };
    const secureLines = Object.entries(document.config)
      .filter(([, v]) => typeof v === "object" && v !== null && "secure" in v)
      .map(([k, v]) => `  ${k}:\n    secure: ${(v as { secure: string }).secure}\n`)
      .join("");
    fs.writeFileSync(project.stackFile, committed + secureLines);
    const before = fs.readFileSync(project.stackFile, "utf8");
    await project.ok(["config", "set", "canaryPercent", "30"]);
    const after = fs.readFileSync(project.stackFile, "utf8");
    const changed = (a: string, b: string): string[] => {
      const left = a.split("\n");
      const right = b.split("\n");
      return right.filter((line, i) => line !== left[i]);
    };
    assert.deepEqual(changed(before, after), ['  canary-release:canaryPercent: "30"']);
    const comments = (text: string): string[] =>
      text.split("\n").filter((line) => line.trim().startsWith("#"));
    assert.ok(comments(before).length >= 5, "the committed file has comments");
    assert.deepEqual(comments(after), comments(before));
    await project.ok(["config", "set", "canaryPercent", "20"]);
    assert.equal(fs.readFileSync(project.stackFile, "utf8"), before, "set back, byte for byte");
    // The stack as deployed (the committed file registers the webhook, which needs a token).
    fs.writeFileSync(project.stackFile, salted);
  });

  it("after an update the API server refuses, the outputs are still the last successful one's", async () => {
    if (tier === undefined) throw new Error("no tier");
    // An admission policy that refuses any Route split giving a revision exactly 50 %.
    await tier.kube.ok(
      "POST",
      "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
      {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingAdmissionPolicy",
        metadata: { name: "no-fifty-fifty" },
        spec: {
          failurePolicy: "Fail",
          matchConstraints: {
            resourceRules: [
              {
                apiGroups: ["serving.knative.dev"],
                apiVersions: ["v1"],
                operations: ["UPDATE"],
                resources: ["routes"],
              },
            ],
          },
          validations: [
            {
              expression: "object.spec.traffic.all(t, !has(t.percent) || t.percent != 50)",
              message: "no 50/50 splits here",
            },
          ],
        },
      },
    );
    await tier.kube.ok(
      "POST",
      "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
      {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingAdmissionPolicyBinding",
        metadata: { name: "no-fifty-fifty" },
        spec: { policyName: "no-fifty-fifty", validationActions: ["Deny"] },
      },
    );
    // The policy takes effect once the API server has loaded it.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await project.ok(["config", "set", "canaryPercent", "50"]);
    const failed = await project.pulumi(["up", "--yes", "--skip-preview", "--non-interactive"]);
    assert.notEqual(failed.code, 0);
    assert.match(`${failed.stdout}${failed.stderr}`, /no 50\/50 splits here/);
    const outputs = JSON.parse(await project.ok(["stack", "output", "--json"])) as {
      canaryPercent: number;
      traffic: { percent: number }[];
    };
    // The stack file says 50, the cluster and the outputs still say 20.
    assert.equal(outputs.canaryPercent, 20);
    assert.deepEqual(
      outputs.traffic.map((t) => t.percent),
      [80, 20, 0],
    );
    await project.ok(["config", "set", "canaryPercent", "20"]);
  });

  it("pulumi destroy is refused while the Route is protected, and deletes nothing", async () => {
    if (tier === undefined) throw new Error("no tier");
    const before = (await project.resources()).length;
    const destroy = await project.pulumi(["destroy", "--yes", "--non-interactive"]);
    assert.notEqual(destroy.code, 0);
    assert.match(`${destroy.stdout}${destroy.stderr}`, /protected/);
    assert.equal((await project.resources()).length, before, "every resource still in the stack");
    const candidateTag = await tier.kube.request(
      "GET",
      "/api/v1/namespaces/hello/services/candidate-hello",
    );
    assert.equal(candidateTag.status, 200, "the tag Service, which depends on the Route, too");
    const route = await tier.kube.request(
      "GET",
      "/apis/serving.knative.dev/v1/namespaces/hello/routes/hello",
    );
    assert.equal(route.status, 200, "the Route is still there");
  });
});
