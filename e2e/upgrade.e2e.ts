// The house redesign (issue 14) must not touch what is deployed: the dev and prod stacks are
// deployed with the last program before it (tag `pre-redesign`), then the current program runs
// on the same stacks, as after a user's `git pull`. Its preview must create, delete and replace
// nothing (URNs unchanged, or aliased where they moved), with two exceptions. By design, the
// ConfigMaps of in-cluster code are named after their content (components/shared/inClusterCode.ts),
// so new code is a new ConfigMap: the tester's is replaced and the pipeline's Node steps' is
// created (it did not exist before); each must carry the current code's hash in its name. And
// the later issues' deliberate changes, each listed by name in DELIBERATE_CHANGES. Every step
// is judged on its own, by URN and type, not by the summary's counts.
//
// The old program comes from e2e/fixtures/pre-redesign.tar.gz (`git archive` of the tag, see
// e2e/fixtures/README.md), not from git: a checkout without tags or history, as CI's may be,
// still runs this test.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { pipelineCodeName } from "../components/build/buildPipelineManifests";
import { testerNames } from "../components/tester/revisionTesterManifests";
import {
  committedStack,
  PROD_CANARY_IN_PROGRESS,
  namespaceWithRevisions,
  standInSecrets,
  withControllers,
} from "./support/fixtures";
import {
  PROJECT_ROOT,
  RealTier,
  StackProject,
  startRealTier,
  stopRealTier,
} from "./support/realTier";

const BEFORE = "pre-redesign";
const OLD_PROGRAM = path.join(__dirname, "fixtures", `${BEFORE}.tar.gz`);

/** Unpacks the old program into `dir`; returns the program's root. */
function unpackOldProgram(dir: string): string {
  const result = spawnSync("tar", ["-xzf", OLD_PROGRAM, "-C", dir], {
    encoding: "utf8",
    timeout: 60_000,
  });
  if (result.status !== 0) {
    throw new Error(`tar -xzf ${OLD_PROGRAM} exited ${result.status}: ${result.stderr}`);
  }
  return path.join(dir, BEFORE);
}

interface ChangeSummary {
  readonly [op: string]: number;
}

/** One step of `pulumi preview --json`: what the engine would do to one resource. */
interface PreviewStep {
  readonly op: string;
  readonly urn: string;
  readonly oldState?: ResourceState;
  readonly newState?: ResourceState;
}

interface ResourceState {
  readonly type: string;
  readonly inputs?: { readonly metadata?: { readonly name?: unknown } };
}

interface Preview {
  readonly steps: readonly PreviewStep[];
  readonly changeSummary: ChangeSummary;
}

/** `pulumi preview --json`: its steps and its change summary (operation → count). */
async function preview(project: StackProject): Promise<Preview> {
  const result = await project.pulumi(["preview", "--json", "--non-interactive"]);
  if (result.code !== 0) {
    throw new Error(`pulumi preview exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  }
  const parsed = JSON.parse(result.stdout) as Partial<Preview>;
  return { steps: parsed.steps ?? [], changeSummary: parsed.changeSummary ?? {} };
}

const ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role";
const ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding";
const POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy";
const POLICY_BINDING =
  "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding";

/**
 * Structural changes made on purpose after the redesign, each named with the issue that made
 * it: anything else an upgrade creates or deletes is a mistake.
 */
function DELIBERATE_CHANGES(
  app: string,
  namespace: string,
): readonly { op: string; type: string; name: string; why: string }[] {
  const why = "issue 15: the EventListener's own Role instead of upstream's, bound as is";
  return [
    { op: "create", type: ROLE, name: `${app}-eventlistener`, why },
    { op: "create", type: ROLE_BINDING, name: `${app}-eventlistener`, why },
    { op: "delete", type: ROLE_BINDING, name: `${app}-eventlistener-roles`, why },
    ...[POLICY, POLICY_BINDING].map((type) => ({
      op: "create",
      type,
      name: `canary-release-${namespace}-${app}-tester-routes`,
      why: "issue 15: the tester may create and delete only its smoke Routes",
    })),
    ...[POLICY, POLICY_BINDING].map((type) => ({
      op: "create",
      type,
      name: `canary-release-${namespace}-${app}-eventlistener-runs`,
      why: "issue 15: the EventListener may start only the app's Pipeline, as its account",
    })),
  ];
}

/** Operations that make or remove a resource, as opposed to same, update or refresh. */
const STRUCTURAL = ["create", "delete", "replace", "create-replacement", "delete-replaced"];
const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";

/**
 * The structural steps of a preview, split into those allowed (a code ConfigMap of `app` made
 * anew under the name the current code gives it, and the removal of the one it replaces) and
 * the rest, each as `<op> <urn> (<old name> -> <new name>)`.
 */
function judgeSteps(
  steps: readonly PreviewStep[],
  app: string,
  namespace: string,
): {
  allowed: string[];
  refused: string[];
} {
  // The names the current program gives its code ConfigMaps: each ends with its code's hash.
  const codeNames = new Set([testerNames(app).configMap, pipelineCodeName(app)]);
  const nameIn = (state: ResourceState | undefined): string | undefined => {
    const name = state?.inputs?.metadata?.name;
    return typeof name === "string" ? name : undefined;
  };
  const nameOf = (step: PreviewStep): string | undefined => nameIn(step.newState);
  const isCodeConfigMap = (step: PreviewStep): boolean => {
    const name = nameOf(step);
    return (
      step.newState?.type === CONFIG_MAP &&
      step.urn.includes(`$${CONFIG_MAP}::`) &&
      step.urn.endsWith("-code") &&
      name !== undefined &&
      codeNames.has(name)
    );
  };
  // URNs the current code's ConfigMaps are made under: their replaced versions may go.
  const codeUrns = new Set(
    steps
      .filter((step) => ["create", "replace", "create-replacement"].includes(step.op))
      .filter(isCodeConfigMap)
      .map((step) => step.urn),
  );
  const deliberate = (step: PreviewStep): boolean =>
    DELIBERATE_CHANGES(app, namespace).some(
      (change) =>
        change.op === step.op &&
        change.type === (step.newState ?? step.oldState)?.type &&
        change.name === (nameOf(step) ?? nameIn(step.oldState)),
    );
  const allowed: string[] = [];
  const refused: string[] = [];
  for (const step of steps.filter((s) => STRUCTURAL.includes(s.op))) {
    const names = [nameIn(step.oldState), nameOf(step)].map((name) => name ?? "-").join(" -> ");
    const line = `${step.op} ${step.urn} (${names})`;
    const ok =
      deliberate(step) ||
      (codeUrns.has(step.urn) &&
        (step.op === "delete-replaced" || (step.op !== "delete" && isCodeConfigMap(step))));
    (ok ? allowed : refused).push(line);
  }
  return { allowed, refused };
}

describe(`upgrading stacks deployed by the program at tag ${BEFORE} (real CLI, real API server)`, function () {
  let tier: RealTier | undefined;
  let oldProgram: string | undefined;

  before(async function () {
    this.timeout(90 * 60 * 1000);
    tier = await startRealTier(this);
    oldProgram = unpackOldProgram(tier.dir);
  });
  after(() => stopRealTier(tier));

  /** Deploys `config` with the old program, then previews and applies the current one. */
  async function upgrade(
    stack: string,
    config: Record<string, unknown>,
    secrets: Record<string, string>,
  ): Promise<Preview> {
    if (tier === undefined || oldProgram === undefined) throw new Error("no tier");
    const project = await StackProject.create(tier, stack, config, secrets, oldProgram);
    await withControllers(tier, project, ["up", "--yes", "--skip-preview", "--non-interactive"]);
    project.replaceProgram(PROJECT_ROOT);
    const result = await preview(project);
    // And it applies: the stack stays deployable by the new program.
    await withControllers(tier, project, ["up", "--yes", "--skip-preview", "--non-interactive"]);
    return result;
  }

  /**
   * Nothing made or removed but the code ConfigMaps of the current code and the deliberate
   * changes named in DELIBERATE_CHANGES.
   */
  const onlyExpectedChanges = (result: Preview, config: Record<string, unknown>): void => {
    const { changeSummary: summary, steps } = result;
    console.log(`      preview after the upgrade: ${JSON.stringify(summary)}`);
    const app = String(config["canary-release:app"]);
    const namespace = String(config["canary-release:namespace"] ?? "default");
    const { allowed, refused } = judgeSteps(steps, app, namespace);
    console.log(
      `      allowed (code ConfigMaps named after the current code, deliberate changes):`,
    );
    for (const line of allowed) console.log(`        ${line}`);
    assert.deepEqual(refused, [], "steps that create, delete or replace anything else");
    assert.ok((summary.same ?? 0) > 20, `most resources unchanged: ${JSON.stringify(summary)}`);
  };

  it("dev: the current program creates, deletes and replaces nothing but code ConfigMaps and deliberate changes", async function () {
    this.timeout(20 * 60 * 1000);
    const config = committedStack("dev", { "canary-release:platform": { install: false } });
    const result = await upgrade("dev", config, standInSecrets("webhookSecret"));
    onlyExpectedChanges(result, config);
  });

  it("prod: the current program creates, deletes and replaces nothing but code ConfigMaps and deliberate changes", async function () {
    this.timeout(20 * 60 * 1000);
    if (tier === undefined) throw new Error("no tier");
    await namespaceWithRevisions(tier.kube, "hello", "hello", {
      "hello-1a2b3c4": {},
      "hello-5d6e7f8": {},
    });
    const config = committedStack("prod", PROD_CANARY_IN_PROGRESS);
    const result = await upgrade(
      "prod",
      config,
      standInSecrets("webhookSecret", "registryCredentials", "testerGithubToken"),
    );
    onlyExpectedChanges(result, config);
  });
});
