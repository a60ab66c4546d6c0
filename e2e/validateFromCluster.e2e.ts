// `npm run validate -- --from-cluster` against a local kube-apiserver into which ../shared/crds
// were applied: the CRDs come back through `kubectl get crd -o yaml` of the kubeconfig's current
// context (or --context), as they would from a user's cluster. Needs etcd, kube-apiserver and
// kubectl only, not the Pulumi CLI, so it starts the control plane itself.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { main as validateCli } from "../conformance/cli";
import { crdsDirectory } from "../conformance/stackConformance";
import {
  CONTEXT,
  ControlPlane,
  startControlPlane,
  stopControlPlane,
} from "../toolchain/controlPlane";
import { Component, locate, readVersions, Toolchain } from "../toolchain/toolchain";
import { skipOrFailInCi } from "../test/support/skip";

const COMPONENTS: readonly Component[] = ["etcd", "kubernetes"];

async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const original = { log: console.log, error: console.error };
  console.log = (...parts: unknown[]) => void lines.push(parts.join(" "));
  console.error = console.log;
  try {
    return { code: await validateCli(args, env), output: lines.join("\n") };
  } finally {
    console.log = original.log;
    console.error = original.error;
  }
}

describe("npm run validate -- --from-cluster (real kube-apiserver)", function () {
  this.timeout(10 * 60_000);
  let dir: string | undefined;
  let plane: ControlPlane | undefined;
  let toolchain: Toolchain | undefined;

  before(async function () {
    // Only etcd, kube-apiserver and kubectl run here: located, never built (`npm run toolchain`
    // builds them), so this test needs no Pulumi CLI, which ensureToolchain would insist on.
    const { found, missing } = locate(process.env, COMPONENTS);
    if (missing.length > 0 || found.etcd === undefined || found.kubernetes === undefined) {
      skipOrFailInCi(this, `run \`npm run toolchain\` first: ${missing.join(", ")} not built`);
    }
    if (!fs.existsSync(crdsDirectory())) skipOrFailInCi(this, `no CRDs at ${crdsDirectory()}`);
    const unused = "(not used by the control plane)";
    toolchain = {
      etcd: found.etcd.files.etcd,
      kubeApiserver: found.kubernetes.files["kube-apiserver"],
      kubectl: found.kubernetes.files.kubectl,
      pulumi: unused,
      languageHost: unused,
      kubernetesProvider: unused,
      sources: { etcd: found.etcd.source, kubernetes: found.kubernetes.source },
      versions: readVersions(),
    };
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-validate-e2e-"));
    plane = await startControlPlane({
      dir: path.join(dir, "cluster"),
      toolchain,
      crdsDir: crdsDirectory(),
      log: (line) => console.log(`      cluster: ${line}`),
    });
  });
  after(() => {
    // Stops etcd and kube-apiserver by the PIDs the control plane recorded.
    if (plane !== undefined) stopControlPlane(plane.dir);
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The tier's kubeconfig and kubectl; no Pulumi CLI, so the guard is listed as not checked. */
  const env = (): NodeJS.ProcessEnv => {
    assert.ok(plane && toolchain);
    return {
      ...process.env,
      KUBECONFIG: plane.kubeconfig,
      PATH: [path.dirname(toolchain.kubectl), path.join(os.tmpdir(), "no-pulumi-here")].join(
        path.delimiter,
      ),
    };
  };

  it("reads the CRDs of the kubeconfig's current context and validates the stacks against them", async () => {
    const { code, output } = await runCli(["--from-cluster"], env());
    assert.equal(code, 0, output);
    assert.match(output, /^CRDs: cluster \(the kubeconfig's current context\)/);
    assert.match(output, /ok +serving\.knative\.dev\/v1 Route hello\/hello/);
    assert.match(output, /ok +tekton\.dev\/v1 Pipeline hello\/hello-build-deploy/);
    assert.match(output, /ok +triggers\.tekton\.dev\/v1beta1 EventListener hello\/hello/);
    assert.match(
      output,
      /step guard \(canary-release:maxStepPercent = 50\): no outputs of stack prod/,
    );
    assert.match(output, /\npassed \(with \d+ things not checked, listed above\)/);
  });

  it("--context names the context; one the kubeconfig lacks is code 2, naming it", async () => {
    const named = await runCli(["--from-cluster", "--context", CONTEXT, "--stack", "dev"], env());
    assert.equal(named.code, 0, named.output);
    assert.match(named.output, new RegExp(`^CRDs: cluster \\(context ${CONTEXT}\\)`));

    const wrong = await runCli(["--from-cluster", "--context", "no-such-context"], env());
    assert.equal(wrong.code, 2, wrong.output);
    assert.match(
      wrong.output,
      /--from-cluster: `kubectl --context no-such-context get crd -o yaml` failed for context no-such-context/,
    );
    assert.match(wrong.output, /kubectl config get-contexts/);
  });
});
