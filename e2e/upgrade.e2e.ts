// The house redesign (issue 14) must not touch what is deployed: the dev and prod stacks are
// deployed with the last program before it (tag `pre-redesign`), then the current program runs
// on the same stacks, as after a user's `git pull`. Its preview must create, delete and replace
// nothing (URNs unchanged, or aliased where they moved).
//
// The old program comes from e2e/fixtures/pre-redesign.tar.gz (`git archive` of the tag, see
// e2e/fixtures/README.md), not from git: a checkout without tags or history, as CI's may be,
// still runs this test.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import {
  committedStack,
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

/** `pulumi preview --json`'s change summary: operation → count. */
async function previewSummary(project: StackProject): Promise<ChangeSummary> {
  const result = await project.pulumi(["preview", "--json", "--non-interactive"]);
  if (result.code !== 0) {
    throw new Error(`pulumi preview exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  }
  return (JSON.parse(result.stdout) as { changeSummary: ChangeSummary }).changeSummary;
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
  ): Promise<ChangeSummary> {
    if (tier === undefined || oldProgram === undefined) throw new Error("no tier");
    const project = await StackProject.create(tier, stack, config, secrets, oldProgram);
    await withControllers(tier, project, ["up", "--yes", "--skip-preview", "--non-interactive"]);
    project.replaceProgram(PROJECT_ROOT);
    const summary = await previewSummary(project);
    // And it applies: the stack stays deployable by the new program.
    await withControllers(tier, project, ["up", "--yes", "--skip-preview", "--non-interactive"]);
    return summary;
  }

  const noStructuralChange = (summary: ChangeSummary): void => {
    console.log(`      preview after the upgrade: ${JSON.stringify(summary)}`);
    for (const op of ["create", "delete", "replace", "create-replacement", "delete-replaced"]) {
      assert.equal(summary[op] ?? 0, 0, `${op}: ${JSON.stringify(summary)}`);
    }
    assert.ok((summary.same ?? 0) > 20, `most resources unchanged: ${JSON.stringify(summary)}`);
  };

  it("dev: the current program creates, deletes and replaces nothing", async function () {
    this.timeout(20 * 60 * 1000);
    const summary = await upgrade(
      "dev",
      committedStack("dev", { "canary-release:platform": { install: false } }),
      standInSecrets("webhookSecret"),
    );
    noStructuralChange(summary);
  });

  it("prod: the current program creates, deletes and replaces nothing", async function () {
    this.timeout(20 * 60 * 1000);
    if (tier === undefined) throw new Error("no tier");
    await namespaceWithRevisions(tier.kube, "hello", "hello", {
      "hello-1a2b3c4": {},
      "hello-5d6e7f8": {},
    });
    const summary = await upgrade(
      "prod",
      committedStack("prod"),
      standInSecrets("webhookSecret", "registryCredentials", "testerGithubToken"),
    );
    noStructuralChange(summary);
  });
});
