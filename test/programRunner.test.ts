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
    assert.match(run.error?.message ?? "", /resource "prod\/hello-0000000" does not exist/);
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
});
