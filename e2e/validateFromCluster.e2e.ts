// `npm run validate -- --from-cluster` against the tier's kube-apiserver, into which
// startRealTier applied ../shared/crds: the CRDs come back through `kubectl get crd -o yaml` of
// the kubeconfig's current context (or --context), as they would from a user's cluster.
import { strict as assert } from "assert";
import { main as validateCli } from "../conformance/cli";
import { CONTEXT } from "../toolchain/controlPlane";
import { RealTier, startRealTier, stopRealTier } from "./support/realTier";

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
  let tier: RealTier | undefined;

  before(async function () {
    tier = await startRealTier(this);
  });
  after(() => stopRealTier(tier));

  const env = (): NodeJS.ProcessEnv => {
    assert.ok(tier);
    // The tier's own backend has no prod stack: the step guard is listed as not checked.
    return { ...process.env, ...tier.env };
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
