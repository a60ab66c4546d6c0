// The `canary` command through the Automation API and the real Pulumi CLI (file backend,
// render mode, so no cluster): status, a step, and a step the guard refuses. The stack reads its
// own last outputs through a StackReference, which only the real engine answers.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  CONFIG_KEYS,
  EXIT_ERROR,
  EXIT_OK,
  main,
  openCluster,
  openPulumiStack,
  type CliDeps,
} from "../automation";
import { pulumiEnvironment } from "../toolchain/pulumiHome";
import { PROJECT_ROOT as ROOT, startTools, Tools } from "./support/realTier";
import { preflightOk } from "../test/support/analysisStubs";

const K = CONFIG_KEYS;

describe("the canary command with the real Pulumi CLI (file backend, render mode)", function () {
  let tools: Tools;
  before(async function () {
    this.timeout(90 * 60 * 1000);
    tools = startTools(this);
  });

  it("status, then step 20, on a fresh stack; a step over maxStepPercent is refused", async () => {
    // The Automation API runs `pulumi` from PATH: make it the toolchain's.
    const savedPath = process.env.PATH;
    process.env.PATH = `${path.dirname(tools.toolchain.pulumi)}${path.delimiter}${savedPath ?? ""}`;

    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "canary-e2e-"));
    const project = path.join(tmp, "project");
    fs.cpSync(ROOT, project, {
      recursive: true,
      filter: (source) =>
        !["node_modules", ".git", "rendered", "bin"].includes(path.basename(source)) &&
        !/^Pulumi\.(?!yaml$).*\.yaml$/.test(path.basename(source)),
    });
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(project, "node_modules"), "dir");
    // Its own Pulumi home (the provider plugin installed) and file backend.
    const envVars = pulumiEnvironment(path.join(tmp, "pulumi"), tools.toolchain);
    try {
      const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
      const created = await LocalWorkspace.createStack(
        { stackName: "e2e", workDir: project },
        { envVars },
      );
      await created.setAllConfig({
        "canary-release:app": { value: "hello" },
        [K.namespace]: { value: "hello" },
        [K.stableRevision]: { value: "hello-1111111" },
        [K.candidateRevision]: { value: "hello-2222222" },
        // The step guard reads this stack's own last outputs through a StackReference.
        [K.maxStepPercent]: { value: "50" },
      });
      await created.setConfig(
        "canary-release:render.directory",
        { value: path.join(tmp, "rendered") },
        true,
      );

      const deps = (outputs: { stdout: string }): CliDeps => ({
        cwd: project,
        stdout: (text) => (outputs.stdout += text),
        stderr: (text) => process.stderr.write(text),
        openStack: (open) => openPulumiStack({ ...open, envVars }),
        // A render-mode stack: status says it has no cluster, and opens none.
        openCluster,
        analyse: async () => ({ verdict: "inconclusive", reason: "not used" }),
        preflight: preflightOk,
        sleep: async () => undefined,
        now: () => new Date(),
      });
      const before = { stdout: "" };
      assert.equal(await main(["status", "--stack", "e2e", "--json"], deps(before)), EXIT_OK);
      assert.equal((JSON.parse(before.stdout) as { deployed: unknown }).deployed, null);

      const step = { stdout: "" };
      assert.equal(await main(["step", "20", "--stack", "e2e", "--json"], deps(step)), EXIT_OK);
      assert.match(
        fs.readFileSync(path.join(project, "Pulumi.e2e.yaml"), "utf8"),
        /canaryPercent: "20"/,
      );

      const after = { stdout: "" };
      assert.equal(await main(["status", "--stack", "e2e", "--json"], deps(after)), EXIT_OK);
      const status = JSON.parse(after.stdout) as { deployed: { canaryPercent: number } };
      assert.equal(status.deployed.canaryPercent, 20);
      assert.ok(fs.readdirSync(path.join(tmp, "rendered")).length > 0, "manifests were rendered");

      // 20 -> 90 grows the candidate by 70, more than maxStepPercent 50: the preview refuses
      // it, measured from the outputs the step to 20 left, and the stack file is set back.
      const tooLarge = { stdout: "" };
      let stderr = "";
      const tooLargeDeps = { ...deps(tooLarge), stderr: (text: string) => void (stderr += text) };
      assert.equal(
        await main(["step", "90", "--stack", "e2e", "--verbose"], tooLargeDeps),
        EXIT_ERROR,
      );
      // Pulumi prints a program's error among its diagnostics, streamed by --verbose.
      assert.match(tooLarge.stdout + stderr, /hello-2222222 would go from 20 % to 90 %/);
      assert.match(
        fs.readFileSync(path.join(project, "Pulumi.e2e.yaml"), "utf8"),
        /canaryPercent: "20"/,
      );
    } finally {
      process.env.PATH = savedPath;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
