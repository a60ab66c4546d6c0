import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { emptyCluster, loadStackConfig, runProgram } from "../conformance/programRunner";

describe("program runner", () => {
  it("reports a failure that no exported output depends on", async () => {
    const run = await runProgram({
      config: {},
      cluster: emptyCluster,
      program: path.join(__dirname, "fixtures", "unexportedFailure.ts"),
    });
    assert.match(run.error?.message ?? "", /resource 'prod\/hello-0000000' does not exist/);
  });

  it("loads a stack file as the CLI passes it: strings, objects as JSON, secrets by stand-in", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-"));
    try {
      const file = path.join(dir, "Pulumi.test.yaml");
      fs.writeFileSync(
        file,
        [
          "config:",
          "  canary-release:canaryPercent: 20",
          "  canary-release:render:",
          "    directory: out",
          "  kubernetes:kubeconfig:",
          "    secure: AAABAKr0ciphertext",
          "",
        ].join("\n"),
      );
      assert.throws(() => loadStackConfig(file), /kubernetes:kubeconfig is a secret/);
      const loaded = loadStackConfig(file, { "kubernetes:kubeconfig": "stand-in" });
      assert.deepEqual(loaded, {
        config: {
          "canary-release:canaryPercent": "20",
          "canary-release:render": '{"directory":"out"}',
          "kubernetes:kubeconfig": "stand-in",
        },
        secretKeys: ["kubernetes:kubeconfig"],
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const fixture = path.join(__dirname, "fixtures", "referencesAndOrder.ts");

  it("answers a StackReference to the stack's own full name with its deployed outputs", async () => {
    const firstDeploy = await runProgram({ config: {}, stack: "prod", program: fixture });
    assert.equal(firstDeploy.error, undefined);
    assert.equal(firstDeploy.outputs.previousGreeting, undefined);
    const reference = firstDeploy.resources.find((r) => r.type === "pulumi:pulumi:StackReference");
    assert.equal(reference?.readId, "organization/canary-release/prod");

    const later = await runProgram({
      config: {},
      stack: "prod",
      program: fixture,
      deployedOutputs: { greeting: "hello" },
    });
    assert.equal(later.outputs.previousGreeting, "hello");
  });

  it("fails a StackReference to any other stack, as to one that does not exist", async () => {
    const run = await runProgram({
      config: { "fixture:stack": "dev" },
      stack: "prod",
      program: fixture,
      deployedOutputs: { greeting: "hello" },
    });
    assert.match(run.error?.message ?? "", /unknown stack "organization\/canary-release\/dev"/);
  });

  it("records each resource's dependencies as URNs", async () => {
    const run = await runProgram({ config: {}, stack: "prod", program: fixture });
    const first = run.resources.find((r) => r.name === "first");
    const second = run.resources.find((r) => r.name === "second");
    assert.deepEqual(first?.dependencies, []);
    assert.deepEqual(second?.dependencies, [first?.urn]);
  });
});
