// Canary steps as a user runs them (`pulumi config set … && pulumi up`) against the real engine
// and a real API server, then the candidate gate and the step guard as a preview meets them.
// After each step: the Route read back has the expected split, the engine changed exactly what
// the step should, and the audit log shows exactly one write to Routes from the user.
import { strict as assert } from "assert";
import { trafficFor } from "../common/traffic";
import { AuditLog, countRequests, RequestCounts } from "./support/audit";
import { playControllers } from "./support/controllers";
import {
  committedStack,
  namespaceWithRevisions,
  PROD_CANARY_IN_PROGRESS,
  routeTraffic,
  standInSecrets,
} from "./support/fixtures";
import { Kube, watch } from "./support/kube";
import { RealTier, StackProject, startRealTier, stopRealTier } from "./support/realTier";

const USER = "canary-admin";
const STABLE = "hello-1a2b3c4";
const CANDIDATE = "hello-5d6e7f8";
const SECRETS = standInSecrets("webhookSecret", "registryCredentials", "testerGithubToken");

/**
 * What the engine changed in the last update (`pulumi stack history`): its resource changes
 * without `same`, `read` and `discard` (the StackReference and the candidate Revision are read
 * on every update, and a read no longer made is discarded; reads change nothing).
 */
async function lastChanges(project: StackProject): Promise<Record<string, number>> {
  const history = JSON.parse(await project.ok(["stack", "history", "--json"])) as {
    resourceChanges?: Record<string, number>;
  }[];
  const changes = { ...(history[0]?.resourceChanges ?? {}) };
  delete changes.same;
  delete changes.read;
  delete changes.discard;
  return changes;
}

interface Step {
  readonly name: string;
  /** Keys to set (a value) or remove (null), with `pulumi config set` / `rm`. */
  readonly config: Readonly<Record<string, string | null>>;
  readonly traffic: { stableRevision?: string; candidateRevision?: string; canaryPercent: number };
  /** What the engine must report besides unchanged resources. */
  readonly changes: Readonly<Record<string, number>>;
}

// From the first deployment (bootstrap: every push live) to a promoted candidate. `rollback`
// takes the candidate's share back to 0 (the `canary rollback` meaning); promote comes last.
const STEPS: readonly Step[] = [
  {
    name: "stable: pin the running revision (allowLargeStep: latest's revision is unnamed)",
    config: { stableRevision: STABLE, allowLargeStep: "true" },
    traffic: { stableRevision: STABLE, canaryPercent: 0 },
    changes: { update: 1 },
  },
  {
    name: "candidate at 0 %: its tag, and the Service that keeps the tag inside the cluster",
    config: { allowLargeStep: null, candidateRevision: CANDIDATE, canaryPercent: "0" },
    traffic: { stableRevision: STABLE, candidateRevision: CANDIDATE, canaryPercent: 0 },
    changes: { update: 1, create: 1 },
  },
  ...[20, 50, 100].map((percent) => ({
    name: `canaryPercent ${percent}`,
    config: { canaryPercent: String(percent) },
    traffic: { stableRevision: STABLE, candidateRevision: CANDIDATE, canaryPercent: percent },
    changes: { update: 1 },
  })),
  {
    name: "rollback: the candidate back to 0 % (never refused by the step guard)",
    config: { canaryPercent: "0" },
    traffic: { stableRevision: STABLE, candidateRevision: CANDIDATE, canaryPercent: 0 },
    changes: { update: 1 },
  },
  ...[50, 100].map((percent) => ({
    name: `canaryPercent ${percent} again`,
    config: { canaryPercent: String(percent) },
    traffic: { stableRevision: STABLE, candidateRevision: CANDIDATE, canaryPercent: percent },
    changes: { update: 1 },
  })),
  {
    name: "promote: the candidate becomes stable, its tag and tag Service go",
    config: { stableRevision: CANDIDATE, candidateRevision: null, canaryPercent: "0" },
    traffic: { stableRevision: CANDIDATE, canaryPercent: 0 },
    changes: { update: 1, delete: 1 },
  },
];

describe("canary steps as a user runs them (real engine, real API server)", function () {
  let tier: RealTier | undefined;
  let project: StackProject;
  let audit: AuditLog;
  const figures: string[] = [];

  before(async function () {
    this.timeout(90 * 60 * 1000);
    tier = await startRealTier(this);
    await namespaceWithRevisions(tier.kube, "hello", "hello", { [STABLE]: {}, [CANDIDATE]: {} });
    project = await StackProject.create(
      tier,
      "prod",
      // The committed prod file as a fresh prod starts: no stable revision, no candidate.
      committedStack("prod"),
      SECRETS,
    );
    audit = new AuditLog(`${tier.plane.dir}/audit.log`);
  });
  after(() => {
    if (figures.length > 0)
      console.log(`      per step:\n${figures.map((f) => `        ${f}`).join("\n")}`);
    stopRealTier(tier);
  });

  /**
   * `pulumi up --yes` (preview, then update), playing the controllers the provider waits for,
   * with a watch on the Route counting the changes the API server stored.
   */
  async function up(): Promise<{
    seconds: number;
    routes: RequestCounts;
    all: RequestCounts;
    routeChanges: number;
  }> {
    if (tier === undefined) throw new Error("no tier");
    audit.since();
    const routes = "/apis/serving.knative.dev/v1/namespaces/hello/routes";
    const list = (await tier.kube.ok("GET", routes)) as { metadata: { resourceVersion: string } };
    const routeWatch = watch(
      tier.kube,
      tier.plane,
      `${routes}?fieldSelector=metadata.name%3Dhello`,
      list.metadata.resourceVersion,
    );
    const controllers = playControllers(new Kube(tier.plane, tier.plane.controllerToken));
    const started = Date.now();
    try {
      await project.ok(["up", "--yes", "--non-interactive"]);
    } finally {
      await controllers.stop();
    }
    const seconds = (Date.now() - started) / 1000;
    // Events arrive within milliseconds; a second is plenty on loopback.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    routeWatch.stop();
    const events = audit.since();
    if (process.env.E2E_VERBOSE) {
      for (const e of events.filter((e) => e.objectRef?.resource === "routes")) {
        console.log(
          `        ${e.user.username} ${e.verb} ${e.requestURI} ${e.responseStatus?.code} ` +
            JSON.stringify(
              (e as unknown as { requestObject?: unknown }).requestObject ?? null,
            ).slice(0, 300),
        );
      }
    }
    return {
      seconds,
      routes: countRequests(events, USER, "routes"),
      all: countRequests(events, USER),
      routeChanges: routeWatch.events.filter((e) => e.type !== "BOOKMARK").length,
    };
  }

  it("bootstrap: the first up creates the stack; all traffic to the latest revision", async () => {
    if (tier === undefined) throw new Error("no tier");
    const result = await up();
    assert.deepEqual(
      routeTraffic(tier, "hello", "hello"),
      trafficFor({ app: "hello", canaryPercent: 0 }),
    );
    assert.equal(result.routes.writes - result.routes.fixUps, 1, "the Route is created once");
    assert.equal(result.routeChanges, 1, "the API server stored one change of the Route");
    assert.ok(((await lastChanges(project)).create ?? 0) > 30);
  });

  for (const step of STEPS) {
    it(step.name, async () => {
      if (tier === undefined) throw new Error("no tier");
      for (const [key, value] of Object.entries(step.config)) {
        await project.ok(value === null ? ["config", "rm", key] : ["config", "set", key, value]);
      }
      const result = await up();
      assert.deepEqual(
        routeTraffic(tier, "hello", "hello"),
        trafficFor({ app: "hello", ...step.traffic }),
        "the Route read back",
      );
      assert.deepEqual(await lastChanges(project), step.changes, "what the engine changed");
      // One server-side apply of the Route; besides it only the provider's no-op
      // field-manager fix-up, and the API server stores exactly one change.
      assert.equal(result.routes.writes - result.routes.fixUps, 1, "applies to the Route");
      assert.ok(result.routes.fixUps <= 1, `${result.routes.fixUps} field-manager fix-ups`);
      assert.equal(result.routeChanges, 1, "changes of the Route the API server stored");
      figures.push(
        `${step.name.split(":")[0].padEnd(24)} ${result.seconds.toFixed(1)} s; Routes: ` +
          `${result.routes.writes - result.routes.fixUps} apply + ${result.routes.fixUps} ` +
          `no-op fix-up, ${result.routes.dryRuns} dry run, ${result.routes.reads} reads, ` +
          `${result.routeChanges} stored change; all kinds: ${result.all.writes} writes, ` +
          `${result.all.dryRuns} dry runs, ${result.all.reads} reads`,
      );
    });
  }
});

describe("the candidate gate and the step guard at preview (real engine)", function () {
  let tier: RealTier | undefined;

  before(async function () {
    this.timeout(90 * 60 * 1000);
    tier = await startRealTier(this);
    await namespaceWithRevisions(tier.kube, "hello", "hello", {
      [STABLE]: {},
      [CANDIDATE]: {},
      "hello-fa11ed0": { smokeTest: "failed" },
      "hello-0badbad": {
        ready: "False",
        reason: "ContainerMissing",
        message: "Unable to fetch image",
      },
      "hello-7e57ed0": { smokeTest: null },
    });
  });
  after(() => stopRealTier(tier));

  async function prodStack(name: string, config: Record<string, unknown>): Promise<StackProject> {
    if (tier === undefined) throw new Error("no tier");
    // Each case changes a canary in progress: stable hello-1a2b3c4, candidate hello-5d6e7f8.
    const changes = { ...PROD_CANARY_IN_PROGRESS, ...config };
    return StackProject.create(tier, name, committedStack("prod", changes), SECRETS);
  }
  /** `pulumi preview`, as a reviewer's CI runs it. */
  async function preview(project: StackProject): Promise<{ code: number | null; text: string }> {
    const result = await project.pulumi(["preview", "--non-interactive"]);
    return { code: result.code, text: `${result.stdout}\n${result.stderr}` };
  }

  it("refuses a candidate that is missing, not Ready, or failed its smoke test", async () => {
    const cases: [string, RegExp][] = [
      ["hello-0000000", /Preview failed: resource 'hello\/hello-0000000' does not exist/],
      [
        "hello-0badbad",
        /Refusing to send traffic to candidate revision hello\/hello-0badbad: .*ContainerMissing/,
      ],
      [
        "hello-fa11ed0",
        /Refusing to send traffic to candidate revision hello\/hello-fa11ed0: .*failed/,
      ],
      ["hello-7e57ed0", /Refusing to send traffic to candidate revision hello\/hello-7e57ed0/],
    ];
    for (const [candidate, message] of cases) {
      const project = await prodStack(`gate-${candidate.slice(-7)}`, {
        "canary-release:candidateRevision": candidate,
      });
      const result = await preview(project);
      assert.notEqual(result.code, 0, `${candidate}: the preview must fail`);
      assert.match(result.text, message, `${candidate}:\n${result.text}`);
    }
  });

  it("allowUntestedCandidate: the preview warns and proceeds", async () => {
    const project = await prodStack("gate-override", {
      "canary-release:candidateRevision": "hello-fa11ed0",
      "canary-release:allowUntestedCandidate": "true",
    });
    const result = await preview(project);
    assert.equal(result.code, 0, result.text);
    assert.match(
      result.text,
      /warning: Sending traffic to candidate revision hello\/hello-fa11ed0 although/,
    );
  });

  it("the step guard: first deployment free, then refused over maxStepPercent, allowLargeStep, rollback", async () => {
    if (tier === undefined) throw new Error("no tier");
    // A stack never deployed has no `traffic` output: its first update goes through at 80 %.
    const project = await prodStack("guard", { "canary-release:canaryPercent": "80" });
    const controllers = playControllers(new Kube(tier.plane, tier.plane.controllerToken));
    try {
      await project.ok(["up", "--yes", "--non-interactive"]);
      // 80 -> 20 shrinks the candidate: fine. Then 20 -> 90 (+70) is refused at preview.
      await project.ok(["config", "set", "canaryPercent", "20"]);
      await project.ok(["up", "--yes", "--non-interactive"]);
      await project.ok(["config", "set", "canaryPercent", "90"]);
      const refused = await preview(project);
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.text,
        /hello-5d6e7f8 would go from 20 % to 90 % of the traffic \(\+70\)/,
      );
      // On purpose: allowLargeStep lets it through, with a warning naming the step.
      await project.ok(["config", "set", "allowLargeStep", "true"]);
      const allowed = await preview(project);
      assert.equal(allowed.code, 0, allowed.text);
      assert.match(allowed.text, /allowLargeStep is true, so this step goes ahead/);
      await project.ok(["up", "--yes", "--non-interactive"]);
      await project.ok(["config", "rm", "allowLargeStep"]);
      // A rollback (90 -> 0: stable 10 -> 100) is never refused.
      await project.ok(["config", "set", "canaryPercent", "0"]);
      const rollback = await preview(project);
      assert.equal(rollback.code, 0, rollback.text);
    } finally {
      await controllers.stop();
    }
  });
});
