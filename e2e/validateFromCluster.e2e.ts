// `npm run validate -- --from-cluster` against a local kube-apiserver into which ../shared/crds
// were applied: the CRDs come back through `kubectl get crd -o yaml` of the kubeconfig's current
// context (or --context), as they would from a user's cluster.
import { strict as assert } from "assert";
import * as os from "os";
import * as path from "path";
import { runCli } from "../test/support/validateCli";
import { CONTEXT } from "../toolchain/controlPlane";
import { RealTier, startRealTier, stopRealTier } from "./support/realTier";

describe("npm run validate -- --from-cluster (real kube-apiserver)", function () {
  this.timeout(10 * 60_000);
  let tier: RealTier | undefined;

  before(async function () {
    this.timeout(90 * 60_000);
    // The standard real tier (its control plane has ../shared/crds applied); only its
    // kubeconfig and kubectl are used below.
    tier = await startRealTier(this);
  });
  after(() => stopRealTier(tier));

  /** The tier's kubeconfig and kubectl; no Pulumi CLI, so the guard is listed as not checked. */
  const env = (): NodeJS.ProcessEnv => {
    assert.ok(tier);
    // kubectl only: without a Pulumi CLI the stacks' last outputs cannot be read.
    return {
      ...process.env,
      KUBECONFIG: tier.plane.kubeconfig,
      PATH: [path.dirname(tier.toolchain.kubectl), path.join(os.tmpdir(), "no-pulumi-here")].join(
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
