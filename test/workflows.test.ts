// The CI that makes each canary step a reviewed `pulumi up` (.github/workflows) and the scripts it
// runs. GitHub reports a mistake in a workflow only on the next pull request or merge, so the
// workflow files are parsed and checked here: triggers, jobs, concurrency, permissions, secrets,
// pinned actions, action inputs; the scripts run for real (git, child processes, a fake `gh`).
import { strict as assert } from "assert";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";

const ROOT = path.resolve(__dirname, "..");
const WORKFLOWS_DIR = path.join(ROOT, ".github", "workflows");
const AFFECTED_STACKS_SCRIPT = path.join(ROOT, ".github", "scripts", "affected-stacks.js");
const PREPARE_STACK_SCRIPT = path.join(ROOT, ".github", "scripts", "prepare-stack.js");

interface MatrixEntry {
  stack: string;
  stackName: string;
  kubeconfigSecret: string;
}
interface Affected {
  stacks: string[];
  notes: string[];
  warnings: string[];
}
interface AffectedStacksModule {
  PROGRAM_PATHS: readonly string[];
  STACK_FILE_GLOB: string;
  STACKS_FILE: string;
  affectedStacks(input: {
    changedFiles: readonly string[] | "all";
    managedStacks: readonly string[];
    existingStacks: readonly string[];
  }): Affected;
  kubeconfigSecretName(stack: string): string;
  parseStacksFile(text: string, source?: string): string[];
  stackMatrix(stacks: readonly string[], organization?: string): { include: MatrixEntry[] };
}
interface StackAccessInput {
  stack: string;
  kubeconfigSecret: string;
  stackFile: unknown;
  kubeconfig: string;
  accessToken: string;
  backendUrl: string;
  passphrase: string;
}
interface PrepareStackModule {
  stackAccess(input: StackAccessInput): {
    problems: string[];
    writeKubeconfig: boolean;
    summary: string;
  };
  pulumiCliVersion(packageJson: unknown): string;
}

// Plain CommonJS scripts (they run on the runner without a build): typed here by what the tests use.
const affected = require(AFFECTED_STACKS_SCRIPT) as AffectedStacksModule;
const prepare = require(PREPARE_STACK_SCRIPT) as PrepareStackModule;

// ---------------------------------------------------------------------------------------------
// Workflow files

type Permissions = string | Record<string, string>;
interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
interface Job {
  name?: string;
  needs?: string | string[];
  if?: string;
  permissions?: Permissions;
  concurrency?: string | { group: string; "cancel-in-progress"?: boolean | string };
  strategy?: { "fail-fast"?: boolean; matrix?: unknown };
  outputs?: Record<string, string>;
  env?: Record<string, unknown>;
  steps: Step[];
}
interface Trigger {
  branches?: string[];
  "branches-ignore"?: string[];
  tags?: string[];
  paths?: string[];
  "paths-ignore"?: string[];
}
interface Workflow {
  file: string;
  text: string;
  name?: string;
  on: Record<string, Trigger | null>;
  permissions?: Permissions;
  env?: Record<string, unknown>;
  jobs: Record<string, Job>;
}

function loadWorkflows(): Workflow[] {
  const files = fs
    .readdirSync(WORKFLOWS_DIR)
    .filter((file) => file.endsWith(".yml") || file.endsWith(".yaml"))
    .sort();
  return files.map((file) => {
    const text = fs.readFileSync(path.join(WORKFLOWS_DIR, file), "utf8");
    const doc = YAML.parseDocument(text);
    assert.deepEqual(
      [...doc.errors, ...doc.warnings].map((problem) => problem.message),
      [],
      `${file} is not clean YAML`,
    );
    const parsed = doc.toJS() as Record<string, unknown>;
    // `on: push` and `on: [push, pull_request]` are shorthands of the mapping form.
    const on = parsed.on;
    const triggers =
      typeof on === "string"
        ? { [on]: null }
        : Array.isArray(on)
          ? Object.fromEntries(on.map((name: string) => [name, null]))
          : on;
    assert.ok(
      typeof triggers === "object" && triggers !== null,
      `${file}: no triggers (the "on" key)`,
    );
    const jobs = parsed.jobs as Record<string, Job> | undefined;
    assert.ok(jobs !== undefined && Object.keys(jobs).length > 0, `${file}: no jobs`);
    for (const [id, job] of Object.entries(jobs)) {
      assert.ok(
        Array.isArray(job.steps) && job.steps.length > 0,
        `${file}: job ${id} has no steps`,
      );
    }
    return {
      ...(parsed as Omit<Workflow, "file" | "text" | "on">),
      file,
      text,
      on: triggers as Record<string, Trigger | null>,
      jobs,
    };
  });
}

let loaded: Workflow[] | undefined;
/** Loaded on first use, so that a broken workflow fails its tests rather than the whole suite. */
const workflows = (): Workflow[] => (loaded ??= loadWorkflows());

function workflowOn(trigger: string): Workflow {
  const found = workflows().filter((workflow) => trigger in workflow.on);
  assert.equal(
    found.length,
    1,
    `expected one workflow triggered by ${trigger}, found ${found.map((w) => w.file).join(", ") || "none"}`,
  );
  return found[0];
}

const preview = (): Workflow => workflowOn("pull_request");
const up = (): Workflow => workflowOn("push");
const forkNotice = (): Workflow => workflowOn("pull_request_target");

function allJobs(): { workflow: Workflow; id: string; job: Job }[] {
  return workflows().flatMap((workflow) =>
    Object.entries(workflow.jobs).map(([id, job]) => ({ workflow, id, job })),
  );
}

const usesAction = (step: Step, action: string): boolean =>
  step.uses !== undefined && step.uses.split("@")[0] === action;

const pulumiSteps = (job: Job): Step[] => job.steps.filter((s) => usesAction(s, "pulumi/actions"));

function onlyPulumiStep(job: Job): Step {
  const steps = pulumiSteps(job);
  assert.equal(steps.length, 1, "expected exactly one pulumi/actions step");
  return steps[0];
}

/** Whether the job writes to the pull request's conversation. */
function postsComment(job: Job): boolean {
  return job.steps.some(
    (step) =>
      (usesAction(step, "pulumi/actions") && String(step.with?.["comment-on-pr"]) === "true") ||
      (step.run !== undefined && /gh api --method (POST|PATCH)/.test(step.run)),
  );
}

function concurrencyOf(job: Job): { group: string; cancelInProgress: unknown } {
  const concurrency = job.concurrency;
  assert.ok(
    typeof concurrency === "object" && concurrency !== undefined,
    "the job needs a concurrency mapping with a group",
  );
  return { group: concurrency.group, cancelInProgress: concurrency["cancel-in-progress"] };
}

/** Replaces `${{ matrix.stack }}` and the pull request number, as GitHub would. */
function expand(group: string, stack: string, pr: number): string {
  return group
    .replace(/\$\{\{\s*matrix\.stack\s*\}\}/g, stack)
    .replace(/\$\{\{\s*github\.event\.pull_request\.number\s*\}\}/g, String(pr));
}

const stepRunning = (job: Job, script: string): Step => {
  const found = job.steps.filter((step) => step.run?.includes(script));
  assert.equal(found.length, 1, `expected one step running ${script}`);
  return found[0];
};

// The `with:` keys each action accepts. pulumi/actions: the inputs of its action.yml in
// github.com/pulumi/actions (commit 4ddd4329226d5f7fdca0bc1fe3a0a659f4de25fe, the v6 line that
// runs on node20), found with the library's code search. actions/checkout and actions/setup-node:
// the inputs their action.yml declared in the versions read the same way (commits
// f67ee5d6224ccd5af1909d53ea1faa5efb91db29 and 76a4cff9ae9abd877db3173c31637296d870a25b);
// v4 keeps them all and adds more, which this list would have to learn before they are used.
const KNOWN_INPUTS: Record<string, readonly string[]> = {
  "pulumi/actions": [
    "command",
    "stack-name",
    "pulumi-version",
    "pulumi-version-file",
    "work-dir",
    "comment-on-pr",
    "comment-on-pr-number",
    "comment-on-summary",
    "github-token",
    "cloud-url",
    "secrets-provider",
    "parallel",
    "message",
    "config-map",
    "expect-no-changes",
    "diff",
    "replace",
    "target",
    "target-dependents",
    "policyPacks",
    "policyPackConfigs",
    "refresh",
    "upsert",
    "remove",
    "edit-pr-comment",
    "color",
    "exclude-protected",
    "plan",
    "suppress-outputs",
    "suppress-progress",
    "always-include-summary",
  ],
  "actions/checkout": [
    "repository",
    "ref",
    "token",
    "ssh-key",
    "ssh-known-hosts",
    "ssh-strict",
    "persist-credentials",
    "path",
    "clean",
    "fetch-depth",
    "lfs",
    "submodules",
    "set-safe-directory",
  ],
  "actions/setup-node": [
    "always-auth",
    "node-version",
    "architecture",
    "check-latest",
    "registry-url",
    "scope",
    "token",
    "cache",
    "cache-dependency-path",
  ],
};

// The `permissions:` scopes GitHub knows; anything else is a typo that GitHub rejects.
const PERMISSION_SCOPES = [
  "actions",
  "attestations",
  "checks",
  "contents",
  "deployments",
  "discussions",
  "id-token",
  "issues",
  "models",
  "packages",
  "pages",
  "pull-requests",
  "repository-projects",
  "security-events",
  "statuses",
];

const FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository";
const EXPECTED_PATHS = [affected.STACK_FILE_GLOB, ...affected.PROGRAM_PATHS].sort();

/** The section "Reviewing a step" of the operations guide. */
function reviewingSection(): string {
  const readme = fs.readFileSync(path.join(ROOT, "docs", "operations.md"), "utf8");
  const start = readme.indexOf("\n## Reviewing a step\n");
  assert.ok(start >= 0, 'docs/operations.md has no section "## Reviewing a step"');
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The first-column names of the section's secrets table. */
function documentedSecrets(): string[] {
  const lines = reviewingSection().split("\n");
  const header = lines.findIndex((line) => /^\|\s*secret\s*\|/.test(line));
  assert.ok(
    header >= 0,
    'the "Reviewing a step" section has no table whose first column is "secret"',
  );
  const names: string[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith("|")) break;
    const match = /^\|\s*`([A-Z0-9_]+)`\s*\|/.exec(line);
    assert.ok(match !== null, `secrets table row without a \`NAME\` in its first cell: ${line}`);
    names.push(match[1]);
  }
  return names;
}

function managedStacks(): string[] {
  return affected.parseStacksFile(fs.readFileSync(path.join(ROOT, affected.STACKS_FILE), "utf8"));
}

describe("CI workflows (.github/workflows)", () => {
  it("are the preview, the update and the fork notice, each clean YAML with a name", () => {
    assert.deepEqual(
      workflows().map((workflow) => workflow.file),
      ["pulumi-fork-notice.yml", "pulumi-preview.yml", "pulumi-up.yml"],
    );
    for (const workflow of workflows()) {
      assert.ok(typeof workflow.name === "string" && workflow.name !== "", workflow.file);
    }
  });

  describe("triggers", () => {
    it("previews pull requests to main that touch a stack file or the program, and nothing else", () => {
      const workflow = preview();
      assert.deepEqual(Object.keys(workflow.on), ["pull_request"]);
      const trigger = workflow.on.pull_request;
      assert.deepEqual(trigger?.branches, ["main"]);
      assert.deepEqual([...(trigger?.paths ?? [])].sort(), EXPECTED_PATHS);
      assert.equal(trigger?.["paths-ignore"], undefined);
    });

    it("runs pulumi up on pushes to main only, for the same paths", () => {
      const workflow = up();
      assert.deepEqual(Object.keys(workflow.on), ["push"]);
      const trigger = workflow.on.push;
      assert.deepEqual(trigger?.branches, ["main"]);
      assert.equal(trigger?.tags, undefined, "a tag push must not deploy");
      assert.equal(trigger?.["branches-ignore"], undefined);
      assert.deepEqual([...(trigger?.paths ?? [])].sort(), EXPECTED_PATHS);
    });

    it("explains skipped fork previews from pull_request_target, for the same pull requests", () => {
      const workflow = forkNotice();
      assert.deepEqual(Object.keys(workflow.on), ["pull_request_target"]);
      const trigger = workflow.on.pull_request_target;
      assert.deepEqual(trigger?.branches, ["main"]);
      assert.deepEqual([...(trigger?.paths ?? [])].sort(), EXPECTED_PATHS);
    });

    it("match what affected-stacks.js reads: every program path changes every managed stack", () => {
      for (const pattern of affected.PROGRAM_PATHS) {
        const file = pattern.endsWith("/**") ? `${pattern.slice(0, -2)}deep/file.ts` : pattern;
        const result = affected.affectedStacks({
          changedFiles: [file],
          managedStacks: ["prod"],
          existingStacks: ["prod"],
        });
        assert.deepEqual(result.stacks, ["prod"], `${file} should affect every managed stack`);
      }
    });
  });

  describe("jobs", () => {
    for (const [workflowOf, jobId] of [
      [preview, "preview"],
      [up, "up"],
    ] as const) {
      it(`${jobId}: a matrix over the stacks the changes job found, and nothing when there are none`, () => {
        const workflow = workflowOf();
        assert.deepEqual(Object.keys(workflow.jobs).sort(), ["changes", jobId].sort());
        const changes = workflow.jobs.changes;
        assert.equal(changes.needs, undefined);
        assert.deepEqual(changes.outputs, {
          any: "${{ steps.affected.outputs.any }}",
          matrix: "${{ steps.affected.outputs.matrix }}",
        });
        const job = workflow.jobs[jobId];
        assert.equal(job.needs, "changes");
        assert.match(job.if ?? "", /needs\.changes\.outputs\.any == 'true'/);
        assert.equal(job.strategy?.matrix, "${{ fromJSON(needs.changes.outputs.matrix) }}");
        assert.equal(job.strategy?.["fail-fast"], false, "one stack must not cancel another");
      });
    }

    it("fork notice: one job, which needs nothing", () => {
      const workflow = forkNotice();
      assert.deepEqual(Object.keys(workflow.jobs), ["fork-notice"]);
      assert.equal(workflow.jobs["fork-notice"].needs, undefined);
    });

    for (const [label, workflowOf, base, head] of [
      [
        "preview",
        preview,
        "github.event.pull_request.base.sha",
        "github.event.pull_request.head.sha",
      ],
      ["up", up, "github.event.before", "github.sha"],
    ] as const) {
      it(`changes (${label}): git diff of ${base}...${head}, with the full history`, () => {
        const changes = workflowOf().jobs.changes;
        const checkout = changes.steps.find((step) => usesAction(step, "actions/checkout"));
        assert.equal(checkout?.with?.["fetch-depth"], 0, "the diff needs both commits");
        const step = stepRunning(changes, ".github/scripts/affected-stacks.js");
        assert.equal(step.id, "affected");
        const args = /affected-stacks\.js --base "\$(\w+)" --head "\$(\w+)"$/.exec(
          step.run?.trim() ?? "",
        );
        assert.ok(args !== null, `unexpected command: ${step.run}`);
        assert.equal(step.env?.[args[1]], `\${{ ${base} }}`);
        assert.equal(step.env?.[args[2]], `\${{ ${head} }}`);
        assert.equal(step.env?.PULUMI_ORGANIZATION, "${{ vars.PULUMI_ORGANIZATION }}");
      });
    }

    it("up deploys the head of main, so a late or re-run job never reverts a newer step", () => {
      const checkout = up().jobs.up.steps.find((step) => usesAction(step, "actions/checkout"));
      assert.equal(checkout?.with?.ref, "${{ github.ref }}");
    });

    it("every Pulumi step follows the credentials check, after npm ci", () => {
      for (const { workflow, id, job } of allJobs()) {
        const steps = pulumiSteps(job);
        if (steps.length === 0) continue;
        const at = (step: Step): number => job.steps.indexOf(step);
        const prepareStep = stepRunning(job, "node .github/scripts/prepare-stack.js");
        const npmCi = stepRunning(job, "npm ci");
        assert.equal(prepareStep.id, "prepare", `${workflow.file} ${id}`);
        assert.ok(at(npmCi) < at(prepareStep), `${workflow.file} ${id}: npm ci first (yaml)`);
        for (const step of steps) assert.ok(at(prepareStep) < at(step), `${workflow.file} ${id}`);
        assert.deepEqual(
          {
            STACK: prepareStep.env?.STACK,
            KUBECONFIG_SECRET: prepareStep.env?.KUBECONFIG_SECRET,
            KUBECONFIG_CONTENT: prepareStep.env?.KUBECONFIG_CONTENT,
          },
          {
            STACK: "${{ matrix.stack }}",
            KUBECONFIG_SECRET: "${{ matrix.kubeconfigSecret }}",
            KUBECONFIG_CONTENT: "${{ secrets[matrix.kubeconfigSecret] }}",
          },
        );
      }
    });
  });

  describe("concurrency", () => {
    it("every job that runs Pulumi has a concurrency group containing the stack", () => {
      const pulumiJobs = allJobs().filter(({ job }) => pulumiSteps(job).length > 0);
      assert.deepEqual(
        pulumiJobs.map(({ id }) => id).sort(),
        ["preview", "up"],
        "jobs running pulumi/actions",
      );
      for (const { workflow, id, job } of pulumiJobs) {
        const { group } = concurrencyOf(job);
        assert.match(group, /\$\{\{ matrix\.stack \}\}/, `${workflow.file} ${id}: ${group}`);
      }
    });

    it("updates of a stack run one at a time, and a running update is never cancelled", () => {
      const { group, cancelInProgress } = concurrencyOf(up().jobs.up);
      assert.equal(group, "pulumi-${{ matrix.stack }}");
      assert.equal(cancelInProgress, false);
    });

    it("a new push cancels the pull request's running preview, never an update", () => {
      const previewGroup = concurrencyOf(preview().jobs.preview);
      assert.equal(previewGroup.cancelInProgress, true);
      assert.match(previewGroup.group, /\$\{\{ github\.event\.pull_request\.number \}\}/);
      // A queued job replaces the pending one of its group: previews need groups of their own.
      const upGroup = concurrencyOf(up().jobs.up).group;
      for (const stack of ["prod", "staging"]) {
        for (const pr of [1, 42]) {
          assert.notEqual(expand(previewGroup.group, stack, pr), expand(upGroup, stack, pr));
        }
      }
      assert.notEqual(expand(previewGroup.group, "prod", 1), expand(previewGroup.group, "prod", 2));
      assert.notEqual(expand(previewGroup.group, "a", 1), expand(previewGroup.group, "b", 1));
    });
  });

  describe("permissions", () => {
    it("are empty or read-only at the top of every workflow", () => {
      for (const workflow of workflows()) {
        const permissions = workflow.permissions;
        assert.ok(
          typeof permissions === "object" && permissions !== null,
          `${workflow.file}: set top-level permissions: {} (the default token can write)`,
        );
        for (const [scope, level] of Object.entries(permissions)) {
          assert.ok(["read", "none"].includes(level), `${workflow.file}: ${scope}: ${level}`);
        }
      }
    });

    it("are explicit per job: contents: read to check out, pull-requests: write only to comment", () => {
      for (const { workflow, id, job } of allJobs()) {
        const where = `${workflow.file} job ${id}`;
        const permissions = job.permissions;
        assert.ok(
          typeof permissions === "object" && permissions !== null,
          `${where}: list its permissions (never read-all/write-all)`,
        );
        for (const [scope, level] of Object.entries(permissions)) {
          assert.ok(PERMISSION_SCOPES.includes(scope), `${where}: unknown scope ${scope}`);
          assert.ok(["read", "write", "none"].includes(level), `${where}: ${scope}: ${level}`);
          if (level === "write") {
            assert.equal(scope, "pull-requests", `${where}: ${scope}: write is not needed`);
          }
        }
        const checksOut = job.steps.some((step) => usesAction(step, "actions/checkout"));
        assert.equal(permissions.contents, checksOut ? "read" : undefined, `${where}: contents`);
        assert.equal(
          permissions["pull-requests"],
          postsComment(job) ? "write" : undefined,
          `${where}: pull-requests`,
        );
      }
    });

    it("only the preview and the fork notice may write to pull requests", () => {
      const writers = allJobs()
        .filter(
          ({ job }) => typeof job.permissions === "object" && job.permissions["pull-requests"],
        )
        .map(({ id }) => id)
        .sort();
      assert.deepEqual(writers, ["fork-notice", "preview"]);
    });
  });

  describe("secrets", () => {
    const referenced = (): Set<string> => {
      const names = new Set<string>();
      for (const workflow of workflows()) {
        for (const match of workflow.text.matchAll(/\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
          names.add(match[1]);
        }
      }
      names.delete("GITHUB_TOKEN"); // GitHub's own, documented by GitHub
      return names;
    };

    it("every secret a workflow names is in the secrets table of docs/operations.md", () => {
      const documented = documentedSecrets();
      const names = [...referenced()];
      assert.ok(names.length > 0, "no secrets found: is the regex still right?");
      for (const name of names) {
        assert.ok(
          documented.includes(name),
          `secrets.${name} is not in the secrets table of docs/operations.md`,
        );
      }
    });

    it("the per-stack kubeconfig secret of every managed stack is in the table", () => {
      const dynamic = new Set<string>();
      for (const workflow of workflows()) {
        for (const match of workflow.text.matchAll(/\bsecrets\[([^\]]*)\]/g)) dynamic.add(match[1]);
      }
      assert.deepEqual([...dynamic], ["matrix.kubeconfigSecret"]);
      const documented = documentedSecrets();
      for (const stack of managedStacks()) {
        const name = affected.kubeconfigSecretName(stack);
        assert.ok(documented.includes(name), `${name} (stack ${stack}) is not in the table`);
      }
      assert.ok(reviewingSection().includes("KUBECONFIG_<STACK>"), "explain the naming rule");
    });

    it("the table lists no secret that no workflow uses", () => {
      const used = new Set([
        ...referenced(),
        ...managedStacks().map(affected.kubeconfigSecretName),
      ]);
      for (const name of documentedSecrets()) {
        assert.ok(used.has(name), `docs/operations.md documents ${name}, which no workflow reads`);
      }
    });

    it("every repository variable a workflow reads is documented in the section", () => {
      const section = reviewingSection();
      for (const workflow of workflows()) {
        for (const match of workflow.text.matchAll(/\bvars\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
          assert.ok(section.includes(`\`${match[1]}\``), `vars.${match[1]} is not documented`);
        }
      }
    });

    it("reach only the credentials check and the Pulumi steps, never npm or a whole job", () => {
      const mentionsSecret = (env: Record<string, unknown> | undefined): boolean =>
        Object.values(env ?? {}).some((value) => /\bsecrets[.[]/.test(String(value)));
      for (const workflow of workflows()) {
        assert.ok(!mentionsSecret(workflow.env), `${workflow.file}: workflow env`);
        for (const [id, job] of Object.entries(workflow.jobs)) {
          assert.ok(!mentionsSecret(job.env), `${workflow.file} ${id}: job env`);
          for (const step of job.steps) {
            if (!mentionsSecret(step.env)) continue;
            const allowed =
              usesAction(step, "pulumi/actions") || step.run?.includes("prepare-stack.js");
            assert.ok(
              allowed,
              `${workflow.file} ${id}: step ${step.name ?? step.run} gets secrets`,
            );
          }
        }
      }
    });

    it("the Pulumi steps get every backend secret, whichever backend is used", () => {
      for (const { workflow, id, job } of allJobs()) {
        for (const step of [...pulumiSteps(job), ...job.steps.filter((s) => s.id === "prepare")]) {
          for (const name of [
            "PULUMI_ACCESS_TOKEN",
            "PULUMI_BACKEND_URL",
            "PULUMI_CONFIG_PASSPHRASE",
          ]) {
            assert.equal(step.env?.[name], `\${{ secrets.${name} }}`, `${workflow.file} ${id}`);
          }
        }
      }
    });
  });

  describe("actions", () => {
    it("every uses: is pinned to a version tag or a commit SHA, never a branch", () => {
      for (const { workflow, id, job } of allJobs()) {
        for (const step of job.steps) {
          if (step.uses === undefined || step.uses.startsWith("./")) continue;
          assert.match(
            step.uses,
            /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/,
            `${workflow.file} ${id}: pin ${step.uses} to a tag like @v4 or a full commit SHA`,
          );
        }
      }
    });

    it("uses the versions this project settled on", () => {
      const majors = new Map<string, Set<string>>();
      for (const { job } of allJobs()) {
        for (const step of job.steps) {
          if (step.uses === undefined) continue;
          const [action, version] = step.uses.split("@");
          majors.set(action, (majors.get(action) ?? new Set()).add(version));
        }
      }
      assert.deepEqual(Object.fromEntries([...majors].map(([a, v]) => [a, [...v]])), {
        "actions/checkout": ["v4"],
        "actions/setup-node": ["v4"],
        "pulumi/actions": ["v6"],
      });
    });

    it("every action gets only inputs it declares", () => {
      for (const { workflow, id, job } of allJobs()) {
        for (const step of job.steps) {
          if (step.uses === undefined) continue;
          const action = step.uses.split("@")[0];
          const known = KNOWN_INPUTS[action];
          assert.ok(known !== undefined, `${workflow.file} ${id}: no input list for ${action}`);
          for (const input of Object.keys(step.with ?? {})) {
            assert.ok(
              known.includes(input),
              `${workflow.file} ${id}: ${action} has no input ${input}`,
            );
          }
        }
      }
    });

    it("setup-node: Node 22, with the npm cache wherever npm ci runs", () => {
      for (const { workflow, id, job } of allJobs()) {
        const installs = job.steps.some((step) => step.run?.includes("npm ci"));
        for (const step of job.steps.filter((s) => usesAction(s, "actions/setup-node"))) {
          assert.equal(String(step.with?.["node-version"]), "22", `${workflow.file} ${id}`);
          assert.equal(step.with?.cache, installs ? "npm" : undefined, `${workflow.file} ${id}`);
        }
      }
    });

    it("checkouts leave no token in .git/config for the program or npm scripts to find", () => {
      for (const { workflow, id, job } of allJobs()) {
        for (const step of job.steps.filter((s) => usesAction(s, "actions/checkout"))) {
          assert.equal(step.with?.["persist-credentials"], false, `${workflow.file} ${id}`);
        }
      }
    });

    it("run: scripts take event data from env, never from ${{ }} (script injection)", () => {
      for (const { workflow, id, job } of allJobs()) {
        for (const step of job.steps) {
          assert.ok(!step.run?.includes("${{"), `${workflow.file} ${id}: ${step.name ?? step.run}`);
        }
      }
    });

    it("pulumi/actions: preview comments on the pull request, up never creates a stack", () => {
      const previewStep = onlyPulumiStep(preview().jobs.preview);
      const upStep = onlyPulumiStep(up().jobs.up);
      for (const step of [previewStep, upStep]) {
        assert.equal(step.with?.["stack-name"], "${{ matrix.stackName }}");
        assert.equal(step.with?.["pulumi-version"], "${{ steps.prepare.outputs.pulumi-version }}");
        assert.notEqual(String(step.with?.upsert), "true", "CI must not create stacks");
        assert.notEqual(String(step.with?.refresh), "true", "a step changes the Route only");
      }
      assert.equal(previewStep.with?.command, "preview");
      assert.equal(previewStep.with?.["comment-on-pr"], true);
      assert.equal(previewStep.with?.["edit-pr-comment"], true);
      assert.equal(upStep.with?.command, "up");
      assert.equal(upStep.with?.["comment-on-pr"], undefined, "a push has no pull request");
    });

    it("a failed preview replaces the stack's comment, under the heading pulumi/actions edits", () => {
      const job = preview().jobs.preview;
      const report = job.steps.find((step) => step.if === "failure()");
      assert.ok(report?.run !== undefined, "no step runs on failure");
      assert.ok(job.steps.indexOf(report) > job.steps.indexOf(onlyPulumiStep(job)));
      // pulumi/actions (src/libs/pr.ts) finds its comment by this heading and this summary.
      assert.ok(
        report.run.includes(
          'heading="#### :tropical_drink: \\`preview\\` on ${project}/${STACK_NAME}"',
        ),
      );
      assert.ok(report.run.includes("<summary>Pulumi report</summary>"));
      assert.equal(report.env?.STACK_NAME, "${{ matrix.stackName }}");
    });
  });

  describe("fork pull requests", () => {
    it("skip the affected-stacks and preview jobs, which would run without secrets", () => {
      for (const [id, job] of Object.entries(preview().jobs)) {
        assert.ok(job.if?.includes(FORK_GUARD), `job ${id} needs the condition ${FORK_GUARD}`);
      }
    });

    it("get a comment saying why, from a job that runs no code of the pull request", () => {
      const job = forkNotice().jobs["fork-notice"];
      assert.equal(job.if, "github.event.pull_request.head.repo.full_name != github.repository");
      assert.deepEqual(
        job.steps.filter((step) => step.uses !== undefined),
        [],
        "pull_request_target with the base repository's token: no checkout, no actions",
      );
      const text = job.steps.map((step) => step.run ?? "").join("\n");
      assert.match(text, /comes from a fork/);
      assert.match(text, /no repository secrets/);
      assert.match(text, /no access to the Pulumi backend or the cluster/);
      assert.match(text, /push this branch to the repository/);
      assert.match(text, /gh api --method POST/);
      // Only the number (an integer) may come from the pull request: no title, branch, body.
      const fields = [...forkNotice().text.matchAll(/github\.event\.pull_request\.([\w.]+)/g)];
      assert.deepEqual([...new Set(fields.map((match) => match[1]))].sort(), [
        "head.repo.full_name",
        "number",
      ]);
    });
  });

  describe("managed stacks (.github/pulumi-stacks.txt)", () => {
    it("lists prod, each with its stack file, and no stack on a kind cluster (dev)", () => {
      const stacks = managedStacks();
      assert.ok(stacks.includes("prod"), "prod is what CI exists for");
      assert.ok(!stacks.includes("dev"), "dev is a kind cluster on a laptop");
      for (const stack of stacks) {
        const file = path.join(ROOT, `Pulumi.${stack}.yaml`);
        assert.ok(fs.existsSync(file), `Pulumi.${stack}.yaml is missing`);
        const config = (
          YAML.parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> }
        ).config;
        const context = String(config?.["kubernetes:context"] ?? "");
        assert.ok(!context.startsWith("kind-"), `${stack} targets ${context}, out of CI's reach`);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The comment scripts, run against a fake `gh`

/** A `gh` that serves `comments.json` for GET and records every call. */
function fakeGh(dir: string): { env: NodeJS.ProcessEnv; calls: () => string[] } {
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(
    path.join(bin, "gh"),
    [
      "#!/usr/bin/env bash",
      'printf "%s\\0" "$*" >> "$FAKE_GH_LOG"',
      'case "$*" in *"--method "*) exit 0 ;; esac',
      'cat "$FAKE_GH_COMMENTS"',
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  const log = path.join(dir, "gh.log");
  fs.rmSync(log, { force: true });
  return {
    env: {
      ...process.env,
      PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
      FAKE_GH_LOG: log,
      FAKE_GH_COMMENTS: path.join(dir, "comments.json"),
      GITHUB_REPOSITORY: "acme/hello",
      PR_NUMBER: "12",
      GH_TOKEN: "not-a-token",
    },
    calls: () =>
      fs.existsSync(log)
        ? fs
            .readFileSync(log, "utf8")
            .split("\0")
            .filter((call) => call !== "")
        : [],
  };
}

const haveTool = (tool: string): boolean =>
  childProcess.spawnSync("bash", ["-c", `command -v ${tool}`]).status === 0;

describe("CI comment scripts (against a fake gh)", function () {
  let dir: string;
  before(function () {
    if (!haveTool("bash") || !haveTool("jq")) {
      // GitHub's runners have both; a development machine may lack jq.
      console.log("      (skipped: the comment scripts need bash and jq on PATH)");
      this.skip();
    }
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "workflows-gh-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const runScript = (
    script: string,
    comments: unknown[][],
    env: Record<string, string>,
  ): string[] => {
    const gh = fakeGh(dir);
    fs.writeFileSync(
      path.join(dir, "comments.json"),
      comments.map((page) => JSON.stringify(page)).join("\n"),
    );
    // How GitHub runs `shell: bash` steps; the cwd has Pulumi.yaml, as a checkout would.
    const result = childProcess.spawnSync(
      "bash",
      ["--noprofile", "--norc", "-eo", "pipefail", "-c", script],
      {
        cwd: ROOT,
        env: { ...gh.env, ...env },
        encoding: "utf8",
      },
    );
    assert.equal(result.status, 0, result.stderr);
    return gh.calls();
  };
  const bot = (id: number, body: string) => ({ id, user: { login: "github-actions[bot]" }, body });
  const report = (stack: string) =>
    `#### :tropical_drink: \`preview\` on canary-release/${stack}\n\n<details>\n<summary>Pulumi report</summary>\n…`;

  it("a failed preview edits the first comment of exactly its stack, on any page", () => {
    const step = preview().jobs.preview.steps.find((s) => s.if === "failure()");
    const env = { STACK_NAME: "prod", HEAD_SHA: "abc1234", RUN_URL: "https://example.test/run/1" };
    const calls = runScript(
      step?.run ?? "",
      [
        [bot(1, report("prod-eu")), { id: 2, user: { login: "someone" }, body: report("prod") }],
        [bot(3, report("prod")), bot(4, report("prod"))],
      ],
      env,
    );
    assert.equal(calls.length, 2, calls.join("\n"));
    assert.match(calls[0], /^api --paginate repos\/acme\/hello\/issues\/12\/comments$/);
    assert.match(calls[1], /^api --method PATCH repos\/acme\/hello\/issues\/comments\/3 -f body=/);
    assert.match(calls[1], /The preview did not complete\*\* for abc1234/);
    assert.match(calls[1], /\[the job log\]\(https:\/\/example\.test\/run\/1\)/);
    const created = runScript(step?.run ?? "", [[bot(1, report("prod-eu"))]], env);
    assert.match(
      created[1],
      /^api --method POST repos\/acme\/hello\/issues\/12\/comments -f body=/,
    );
  });

  it("the fork notice posts once, then edits its own comment", () => {
    const script = forkNotice().jobs["fork-notice"].steps[0].run ?? "";
    const first = runScript(script, [[]], {});
    assert.match(
      first[1],
      /^api --method POST repos\/acme\/hello\/issues\/12\/comments -f body=<!--/,
    );
    assert.match(first[1], /git fetch origin pull\/12\/head:pr-12/);
    const marker = /body=(<!--[^\n]*-->)/.exec(first[1])?.[1] ?? "";
    const again = runScript(
      script,
      [[{ id: 5, user: { login: "someone" }, body: `${marker} quoted` }, bot(6, `${marker}\nold`)]],
      {},
    );
    assert.match(again[1], /^api --method PATCH repos\/acme\/hello\/issues\/comments\/6 /);
  });
});

// ---------------------------------------------------------------------------------------------
// affected-stacks.js

describe("affected-stacks.js", () => {
  const managed = ["prod", "staging"];
  const run = (changedFiles: readonly string[] | "all", existingStacks = ["dev", ...managed]) =>
    affected.affectedStacks({ changedFiles, managedStacks: managed, existingStacks });

  it("a changed stack file affects that stack only", () => {
    const result = run(["Pulumi.prod.yaml"]);
    assert.deepEqual(result.stacks, ["prod"]);
    assert.deepEqual(result.notes, ["prod: affected, Pulumi.prod.yaml changed"]);
  });

  it("a changed program affects every managed stack, in the listed order", () => {
    const result = run(["components/traffic.ts", "Pulumi.staging.yaml"]);
    assert.deepEqual(result.stacks, ["prod", "staging"]);
    assert.match(
      result.notes[0],
      /^prod: affected, the program changed \(components\/traffic\.ts\)/,
    );
  });

  it("a change to the dev stack alone affects nothing, and says dev is not managed", () => {
    const result = run(["Pulumi.dev.yaml"]);
    assert.deepEqual(result.stacks, []);
    assert.ok(
      result.notes.some((note) => /^dev: .*CI does not manage dev/.test(note)),
      result.notes.join("\n"),
    );
  });

  it("documentation, tests and tooling affect nothing", () => {
    const result = run([
      "README.md",
      "test/workflows.test.ts",
      "automation/cli.ts",
      "conformance/cli.ts",
      "examples/hello/Pulumi.prod.yaml",
      "components-old/x.ts",
      ".github/workflows/pulumi-up.yml",
    ]);
    assert.deepEqual(result.stacks, []);
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(result.notes, ["no managed stack is affected: nothing to preview or update"]);
  });

  it("a deleted stack file affects nothing, with a warning that destroying is done by hand", () => {
    const result = run(["Pulumi.staging.yaml"], ["dev", "prod"]);
    assert.deepEqual(result.stacks, []);
    assert.equal(result.warnings.length, 1);
    assert.match(
      result.warnings[0],
      /^staging: .*Pulumi\.staging\.yaml does not exist.*pulumi destroy/,
    );
  });

  it("a stack that CI does not manage is never affected, even by a program change", () => {
    const result = affected.affectedStacks({
      changedFiles: ["index.ts", "Pulumi.qa.yaml"],
      managedStacks: ["prod"],
      existingStacks: ["prod", "qa"],
    });
    assert.deepEqual(result.stacks, ["prod"]);
  });

  it("nothing to compare with affects every managed stack that has its file", () => {
    assert.deepEqual(run("all").stacks, ["prod", "staging"]);
    assert.deepEqual(run("all", ["prod"]).stacks, ["prod"]);
  });

  it("builds the matrix: stack, qualified stack name, kubeconfig secret", () => {
    assert.deepEqual(affected.stackMatrix(["prod", "eu-west.1"], "acme"), {
      include: [
        { stack: "prod", stackName: "acme/prod", kubeconfigSecret: "KUBECONFIG_PROD" },
        {
          stack: "eu-west.1",
          stackName: "acme/eu-west.1",
          kubeconfigSecret: "KUBECONFIG_EU_WEST_1",
        },
      ],
    });
    assert.equal(affected.stackMatrix(["prod"]).include[0].stackName, "prod");
  });

  it("reads the stacks file: names, comments, blank lines; refuses bad or clashing names", () => {
    assert.deepEqual(affected.parseStacksFile("# managed\nprod\n\n  staging  # eu\n"), [
      "prod",
      "staging",
    ]);
    assert.throws(
      () => affected.parseStacksFile("prod\nmy stack\n", "s.txt"),
      /^Error: s\.txt:2: "my stack" is not a stack name/,
    );
    assert.throws(() => affected.parseStacksFile("prod\nprod\n"), /stack prod is listed twice/);
    assert.throws(
      () => affected.parseStacksFile("eu-west\neu.west\n"),
      /share the kubeconfig secret KUBECONFIG_EU_WEST/,
    );
  });

  describe("command line", () => {
    let repo: string;
    const git = (...args: string[]): string => {
      const result = childProcess.spawnSync(
        "git",
        [
          "-c",
          "user.name=Test",
          "-c",
          "user.email=test@example.com",
          "-c",
          "commit.gpgsign=false",
          ...args,
        ],
        { cwd: repo, encoding: "utf8" },
      );
      assert.equal(result.status, 0, result.stderr);
      return result.stdout.trim();
    };
    const commit = (files: Record<string, string | null>, message: string): string => {
      for (const [file, content] of Object.entries(files)) {
        const full = path.join(repo, file);
        if (content === null) {
          fs.rmSync(full);
        } else {
          fs.mkdirSync(path.dirname(full), { recursive: true });
          fs.writeFileSync(full, content);
        }
      }
      git("add", "-A");
      git("commit", "-q", "-m", message);
      return git("rev-parse", "HEAD");
    };
    const cli = (args: string[], env: Record<string, string> = {}) => {
      const output = path.join(repo, "..", "github-output");
      fs.writeFileSync(output, "");
      const result = childProcess.spawnSync(process.execPath, [AFFECTED_STACKS_SCRIPT, ...args], {
        cwd: repo,
        env: {
          ...process.env,
          GITHUB_OUTPUT: output,
          GITHUB_ACTIONS: "true",
          PULUMI_ORGANIZATION: "",
          ...env,
        },
        encoding: "utf8",
      });
      const outputs = Object.fromEntries(
        fs
          .readFileSync(output, "utf8")
          .split("\n")
          .filter((line) => line !== "")
          .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
      );
      return { status: result.status, stdout: result.stdout, stderr: result.stderr, outputs };
    };
    let first: string;
    let prodStep: string;
    let devStep: string;

    before(() => {
      repo = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "affected-stacks-")), "repo");
      fs.mkdirSync(repo);
      git("init", "-q", "-b", "main");
      first = commit(
        {
          ".github/pulumi-stacks.txt": "# CI stacks\nprod\n",
          "Pulumi.yaml": "name: canary-release\n",
          "Pulumi.dev.yaml": "config: {}\n",
          "Pulumi.prod.yaml": 'config:\n  canary-release:canaryPercent: "5"\n',
          "README.md": "hello\n",
        },
        "first",
      );
      prodStep = commit(
        { "Pulumi.prod.yaml": 'config:\n  canary-release:canaryPercent: "20"\n' },
        "step",
      );
      devStep = commit({ "Pulumi.dev.yaml": "config:\n  x: y\n", "README.md": "hi\n" }, "dev");
    });
    after(() => fs.rmSync(path.dirname(repo), { recursive: true, force: true }));

    it("writes the matrix of a stack file change to GITHUB_OUTPUT", () => {
      const result = cli(["--base", first, "--head", prodStep], { PULUMI_ORGANIZATION: "acme" });
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(result.outputs, {
        stacks: '["prod"]',
        matrix: JSON.stringify({
          include: [{ stack: "prod", stackName: "acme/prod", kubeconfigSecret: "KUBECONFIG_PROD" }],
        }),
        any: "true",
      });
      assert.match(result.stdout, /prod: affected, Pulumi\.prod\.yaml changed/);
    });

    it("a dev-only push gives an empty matrix and any=false", () => {
      const result = cli(["--base", prodStep, "--head", devStep]);
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(result.outputs, { stacks: "[]", matrix: '{"include":[]}', any: "false" });
    });

    it("an all-zero or unknown base (new branch, rewritten history) affects every managed stack", () => {
      const zero = cli(["--base", "0".repeat(40), "--head", devStep]);
      assert.equal(zero.outputs.stacks, '["prod"]');
      // A new branch is normal: a note, not a warning.
      assert.doesNotMatch(zero.stdout, /::warning::/);
      assert.match(zero.stdout, /prod: affected, no earlier commit to compare with/);
      const unknown = cli(["--base", "1".repeat(40), "--head", devStep]);
      assert.equal(unknown.outputs.stacks, '["prod"]');
      assert.match(unknown.stdout, /^::warning::commit 1{40} \(--base\) is not in this clone/m);
    });

    it("fails with a message naming the problem, and writes no output", () => {
      const badHead = cli(["--base", first, "--head", "2".repeat(40)]);
      assert.equal(badHead.status, 2);
      assert.match(
        badHead.stderr,
        /commit 2{40} \(--head\) is not in this clone; check out with fetch-depth: 0/,
      );
      assert.deepEqual(badHead.outputs, {});
      const badOrg = cli(["--head", devStep], { PULUMI_ORGANIZATION: "acme corp" });
      assert.equal(badOrg.status, 2);
      assert.match(badOrg.stderr, /PULUMI_ORGANIZATION "acme corp" is not an organization name/);
      const badArg = cli(["--branch", "main"]);
      assert.equal(badArg.status, 2);
      assert.match(badArg.stderr, /unexpected argument "--branch"; usage:/);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// prepare-stack.js

describe("prepare-stack.js", () => {
  const KUBECONFIG = YAML.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "prod", cluster: { server: "https://prod.example.com" } }],
    users: [{ name: "ci", user: { token: "kube-token-secret" } }],
    contexts: [
      { name: "prod", context: { cluster: "prod", user: "ci" } },
      { name: "staging", context: { cluster: "prod", user: "ci" } },
    ],
    "current-context": "staging",
  });
  const base: StackAccessInput = {
    stack: "prod",
    kubeconfigSecret: "KUBECONFIG_PROD",
    stackFile: { config: { "kubernetes:context": "prod", "canary-release:app": "hello" } },
    kubeconfig: KUBECONFIG,
    accessToken: "pul-token",
    backendUrl: "",
    passphrase: "",
  };
  const access = (changes: Partial<StackAccessInput>) =>
    prepare.stackAccess({ ...base, ...changes });
  const only = (problems: string[], pattern: RegExp): void => {
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0], pattern);
  };

  it("Pulumi Cloud and a kubeconfig with the stack's context: ready", () => {
    const result = access({});
    assert.deepEqual(result.problems, []);
    assert.equal(result.writeKubeconfig, true);
    assert.equal(
      result.summary,
      "stack prod: backend Pulumi Cloud; cluster context 'prod' from KUBECONFIG_PROD",
    );
  });

  it("no backend at all: names both secrets", () => {
    only(
      access({ accessToken: "" }).problems,
      /set the repository secret PULUMI_ACCESS_TOKEN .*or PULUMI_BACKEND_URL/,
    );
  });

  it("a self-managed backend needs no token; its URL never reaches the summary", () => {
    const result = access({ accessToken: "", backendUrl: "s3://state-bucket?region=eu-west-1" });
    assert.deepEqual(result.problems, []);
    assert.match(result.summary, /backend self-managed \(s3:\/\/\)/);
    assert.ok(!result.summary.includes("state-bucket"));
  });

  it("a self-hosted Pulumi Cloud URL needs the token too", () => {
    only(
      access({ accessToken: "", backendUrl: "https://api.pulumi.example.com" }).problems,
      /needs an access token/,
    );
    only(access({ backendUrl: "not a url" }).problems, /PULUMI_BACKEND_URL is not a URL/);
  });

  it("a passphrase stack (encryptionsalt) needs PULUMI_CONFIG_PASSPHRASE", () => {
    const stackFile = { encryptionsalt: "v1:abc", config: { "kubernetes:context": "prod" } };
    only(
      access({ stackFile }).problems,
      /Pulumi\.prod\.yaml has an encryptionsalt .*PULUMI_CONFIG_PASSPHRASE/,
    );
    assert.deepEqual(access({ stackFile, passphrase: "correct horse" }).problems, []);
  });

  it("a missing kubeconfig secret names the secret and the context it must hold", () => {
    only(
      access({ kubeconfig: "" }).problems,
      /secret KUBECONFIG_PROD is not set: .*with the context 'prod'/,
    );
  });

  it("a kubeconfig without the stack's context lists the contexts it has", () => {
    const stackFile = { config: { "kubernetes:context": "production" } };
    only(access({ stackFile }).problems, /no context 'production'.*it has 'prod', 'staging'/);
  });

  it("without kubernetes:context, the kubeconfig's current-context must exist", () => {
    assert.deepEqual(access({ stackFile: { config: {} } }).problems, []);
    const noCurrent = KUBECONFIG.replace("current-context: staging", "current-context: gone");
    only(access({ stackFile: { config: {} }, kubeconfig: noCurrent }).problems, /current-context/);
  });

  it("a kubeconfig that is not YAML is refused without quoting it", () => {
    const problems = access({ kubeconfig: "{ kube-token-secret: [" }).problems;
    only(problems, /KUBECONFIG_PROD is not valid YAML or JSON/);
    assert.ok(!problems[0].includes("kube-token-secret"));
    only(access({ kubeconfig: "just text" }).problems, /holds no kubeconfig contexts/);
  });

  it("render mode and a kubeconfig in stack config need no kubeconfig secret", () => {
    const render = access({
      kubeconfig: "",
      stackFile: { config: { "canary-release:render": { directory: "out" } } },
    });
    assert.deepEqual(render.problems, []);
    assert.equal(render.writeKubeconfig, false);
    const own = access({ stackFile: { config: { "kubernetes:kubeconfig": { secure: "v1:x" } } } });
    assert.deepEqual(own.problems, []);
    assert.equal(own.writeKubeconfig, false);
    assert.match(own.summary, /KUBECONFIG_PROD is not used/);
  });

  it("the Pulumi CLI version is toolchain/versions.json's exact pin, @pulumi/pulumi's release", () => {
    const versions = JSON.parse(
      fs.readFileSync(path.join(ROOT, "toolchain", "versions.json"), "utf8"),
    ) as { pulumi: string };
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    assert.equal(prepare.pulumiCliVersion(versions), versions.pulumi);
    assert.equal(versions.pulumi, pkg.dependencies["@pulumi/pulumi"]);
    assert.throws(
      () => prepare.pulumiCliVersion({ pulumi: "^3.200.0" }),
      /pins the Pulumi CLI \("pulumi"\) as "\^3\.200\.0"; CI needs an exact version/,
    );
  });

  describe("command line", () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "prepare-stack-"));
      fs.mkdirSync(path.join(dir, "work"));
      fs.writeFileSync(
        path.join(dir, "work", "Pulumi.prod.yaml"),
        "config:\n  kubernetes:context: prod\n",
      );
      fs.mkdirSync(path.join(dir, "work", "toolchain"));
      fs.writeFileSync(
        path.join(dir, "work", "toolchain", "versions.json"),
        JSON.stringify({ pulumi: "3.265.0" }),
      );
      fs.writeFileSync(path.join(dir, "env"), "");
      fs.writeFileSync(path.join(dir, "output"), "");
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const cli = (env: Record<string, string>) =>
      childProcess.spawnSync(process.execPath, [PREPARE_STACK_SCRIPT], {
        cwd: path.join(dir, "work"),
        env: {
          PATH: process.env.PATH,
          GITHUB_ACTIONS: "true",
          RUNNER_TEMP: dir,
          GITHUB_ENV: path.join(dir, "env"),
          GITHUB_OUTPUT: path.join(dir, "output"),
          STACK: "prod",
          KUBECONFIG_SECRET: "KUBECONFIG_PROD",
          ...env,
        },
        encoding: "utf8",
      });

    it("writes the kubeconfig privately, exports KUBECONFIG and the CLI version", () => {
      const result = cli({ KUBECONFIG_CONTENT: KUBECONFIG, PULUMI_ACCESS_TOKEN: "pul-token" });
      assert.equal(result.status, 0, result.stderr);
      const file = path.join(dir, "kubeconfig-prod");
      assert.equal(fs.readFileSync(file, "utf8"), KUBECONFIG);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.equal(fs.readFileSync(path.join(dir, "env"), "utf8"), `KUBECONFIG=${file}\n`);
      assert.equal(fs.readFileSync(path.join(dir, "output"), "utf8"), "pulumi-version=3.265.0\n");
      assert.match(
        result.stdout,
        /^stack prod: backend Pulumi Cloud; cluster context 'prod' from KUBECONFIG_PROD; Pulumi CLI 3\.265\.0$/m,
      );
      assert.ok(!(result.stdout + result.stderr).includes("kube-token-secret"));
      assert.ok(!(result.stdout + result.stderr).includes("pul-token"));
    });

    it("fails with one ::error:: per problem and prepares nothing", () => {
      const result = cli({ KUBECONFIG_CONTENT: "" });
      assert.equal(result.status, 1);
      const errors = result.stderr.split("\n").filter((line) => line.startsWith("::error::"));
      assert.equal(errors.length, 2, result.stderr);
      assert.match(errors[0], /PULUMI_ACCESS_TOKEN/);
      assert.match(errors[1], /KUBECONFIG_PROD is not set/);
      assert.match(result.stderr, /docs\/operations\.md, "Reviewing a step"/);
      assert.ok(!fs.existsSync(path.join(dir, "kubeconfig-prod")));
      assert.equal(fs.readFileSync(path.join(dir, "env"), "utf8"), "");
      assert.equal(fs.readFileSync(path.join(dir, "output"), "utf8"), "");
    });

    it("names a stack file that does not exist", () => {
      const result = cli({ STACK: "staging", PULUMI_ACCESS_TOKEN: "t" });
      assert.equal(result.status, 2);
      assert.match(result.stderr, /Pulumi\.staging\.yaml does not exist at this commit/);
    });
  });
});
