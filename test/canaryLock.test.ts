// Issue 15, fault 2: two `canary step` runs at once both exited 0 and one value was lost. These
// run concurrent changes on one stack (two drivers in this process, and two `canary` processes)
// against the stand-in Pulumi CLI, whose backend refuses overlapping updates as Pulumi's does.
import { strict as assert } from "assert";
import { execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  CONFIG_KEYS,
  EXIT_LOCKED,
  EXIT_NOT_DEPLOYED,
  EXIT_OK,
  EXIT_REFUSED,
  LOCK_STALE_MS,
  fileStackLock,
  main,
  openPulumiStack,
  setCanaryPercent,
  withConcurrentUpdateRetries,
  type CliDeps,
  type OpenStackOptions,
  type StackDriver,
} from "../automation";
import { MemoryStackDriver } from "./support/memoryStackDriver";
import { realSleep } from "../automation/time";
import { fakePulumiProject, type FakePulumiProject } from "./support/fakePulumiProject";
import { noCluster } from "./support/standInCluster";
import { preflightOk } from "./support/analysisStubs";

const ROOT = path.resolve(__dirname, "..");
const BIN = path.join(ROOT, "automation", "canary.js");
const STABLE = "hello-1a2b3c4";
const CANDIDATE = "hello-5d6e7f8";
const PROD_YAML = [
  "# prod, for the fake CLI",
  "config:",
  "  canary-release:app: hello",
  "  canary-release:namespace: hello",
  `  canary-release:stableRevision: ${STABLE}`,
  `  canary-release:candidateRevision: ${CANDIDATE}`,
  '  canary-release:canaryPercent: "0"',
  "",
].join("\n");
const DEPLOYED_AT_0 = { stableRevision: STABLE, candidateRevision: CANDIDATE, canaryPercent: 0 };
/** Concurrent pairs of the in-process test; the tally of the closing note counts them. */
const PAIRS = 3;
/** Each fake update takes this long, so that two runs started together overlap. */
const UP_DELAY_MS = 400;

const percentInFile = (yaml: string): number =>
  Number(/canary-release:canaryPercent: "(\d+)"/.exec(yaml)?.[1] ?? "NaN");

describe("canary stack lock: concurrent changes of one stack (issue 15, fault 2)", function () {
  // Each fake CLI call is a Node process; a change makes a dozen, two runs wait on each other.
  this.timeout(120_000);
  let fake: FakePulumiProject;
  let savedPath: string | undefined;

  beforeEach(() => {
    fake = fakePulumiProject(PROD_YAML, DEPLOYED_AT_0);
    savedPath = process.env.PATH;
    // The Automation API finds `pulumi` on this process's PATH.
    process.env.PATH = fake.env.PATH;
    process.env.FAKE_PULUMI_STATE = fake.statePath;
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    delete process.env.FAKE_PULUMI_STATE;
    fake.remove();
  });

  /** A driver as the CLI opens it: Pulumi's 409s retried, with short real waits. */
  const openDriver = async (): Promise<StackDriver> =>
    withConcurrentUpdateRetries(
      await openPulumiStack({ stackName: "prod", workDir: fake.project }),
      {
        sleep: realSleep,
        policy: { attempts: 20, initialDelayMs: 100, maxDelayMs: 500 },
      },
    );

  it("two steps at once on two drivers: both values deployed in order, the last one stays", async () => {
    for (let pair = 1; pair <= PAIRS; pair++) {
      fake.writeState({ upDelayMs: UP_DELAY_MS });
      const [first, second] = [await openDriver(), await openDriver()];
      const results = await Promise.all([
        setCanaryPercent(first, 20).then((r) => ({ percent: 20, version: r.summary?.version })),
        setCanaryPercent(second, 40).then((r) => ({ percent: 40, version: r.summary?.version })),
      ]);
      const byVersion = [...results].sort((a, b) => (a.version ?? 0) - (b.version ?? 0));
      const stack = fake.stack();
      assert.deepEqual(
        stack.deployments,
        byVersion.map((r) => r.percent),
        `pair ${pair}: each run deploys its own value, one after the other ` +
          `(runs: ${JSON.stringify(results)})`,
      );
      const last = byVersion[1].percent;
      assert.equal(stack.outputs?.canaryPercent, last, `pair ${pair}: outputs`);
      assert.equal(percentInFile(fake.stackYaml()), last, `pair ${pair}: the stack file`);
      // The next pair starts from 0 again.
      fs.writeFileSync(path.join(fake.project, "Pulumi.prod.yaml"), PROD_YAML);
    }
  });

  it("two `canary step` processes at once: both exit 0 and both values are deployed in order", async () => {
    fake.writeState({ upDelayMs: UP_DELAY_MS });
    const run = (
      percent: number,
    ): Promise<{ code: number; json: { summary?: { version?: number } }; out: string }> =>
      new Promise((resolve) => {
        execFile(
          process.execPath,
          [BIN, "step", String(percent), "--stack", "prod", "--json"],
          { cwd: fake.project, env: fake.env, timeout: 100_000 },
          (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
            let json: { summary?: { version?: number } } = {};
            try {
              json = JSON.parse(stdout) as typeof json;
            } catch {
              // Asserted on below, with the output.
            }
            resolve({ code, json, out: stdout + stderr });
          },
        );
      });
    const [twenty, forty] = await Promise.all([run(20), run(40)]);
    assert.equal(twenty.code, 0, twenty.out);
    assert.equal(forty.code, 0, forty.out);
    const runs = [
      { percent: 20, version: twenty.json.summary?.version ?? 0 },
      { percent: 40, version: forty.json.summary?.version ?? 0 },
    ].sort((a, b) => a.version - b.version);
    assert.deepEqual(
      fake.stack().deployments,
      [runs[0].percent, runs[1].percent],
      twenty.out + forty.out,
    );
    assert.equal(fake.stack().outputs?.canaryPercent, runs[1].percent);
    assert.equal(percentInFile(fake.stackYaml()), runs[1].percent);
  });
});

const K = CONFIG_KEYS;
const BASE: Readonly<Record<string, string>> = {
  "canary-release:app": "hello",
  [K.namespace]: "hello",
  [K.stableRevision]: STABLE,
  [K.candidateRevision]: CANDIDATE,
  [K.canaryPercent]: "0",
};

/** Runs the command in this process; `open` builds the driver from what the command asks. */
async function cli(
  argv: string[],
  cwd: string,
  open: (options: OpenStackOptions) => StackDriver,
): Promise<{ code: number; out: string; opened: OpenStackOptions[] }> {
  let out = "";
  const opened: OpenStackOptions[] = [];
  const deps: CliDeps = {
    cwd,
    stdout: (text) => (out += text),
    stderr: (text) => (out += text),
    openStack: async (options) => {
      opened.push(options);
      return open(options);
    },
    analyse: async () => ({ verdict: "pass", reason: "scripted pass" }),
    preflight: preflightOk,
    openCluster: noCluster,
    // The lock's waits are real: they are short (--lock-wait) and bounded.
    sleep: realSleep,
    now: () => new Date(),
  };
  const code = await main(argv, deps);
  return { code, out, opened };
}

describe("canary stack lock: waiting, timing out, crashed holders, and outputs checked", function () {
  this.timeout(60_000);
  let project: string;
  let stackFile: string;
  beforeEach(() => {
    project = fs.mkdtempSync(path.join(os.tmpdir(), "canary-lock-"));
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    stackFile = path.join(project, "Pulumi.prod.yaml");
    fs.writeFileSync(stackFile, PROD_YAML);
  });
  afterEach(() => fs.rmSync(project, { recursive: true, force: true }));

  /** A memory stack keeping Pulumi.prod.yaml, with the lock beside it as openPulumiStack's. */
  const lockedDriver = (options: OpenStackOptions, config = BASE): MemoryStackDriver =>
    new MemoryStackDriver({
      config,
      stackFile,
      lock: fileStackLock({
        stackName: options.stackName,
        stackFile,
        ...(options.lockWaitMs !== undefined ? { waitMs: options.lockWaitMs } : {}),
        ...(options.onLockWait !== undefined ? { onWait: options.onLockWait } : {}),
      }),
    });

  it("a second step waits for the first, then applies: both values deployed, in order", async () => {
    const holder = fileStackLock({ stackName: "prod", stackFile });
    let releaseFirst: () => void = () => undefined;
    const firstMayEnd = new Promise<void>((resolve) => (releaseFirst = resolve));
    const deployed: string[] = [];
    // The first run holds the lock until the second one says it waits: no timing involved.
    let held: () => void = () => undefined;
    const firstHolds = new Promise<void>((resolve) => (held = resolve));
    const first = holder.hold("canaryPercent 20", async () => {
      held();
      await firstMayEnd;
      deployed.push("20");
    });
    // The holder file is written once the lock is taken: start the second run after that.
    await firstHolds;
    const second = cli(["step", "40", "--stack", "prod", "--lock-wait", "30s"], project, (o) =>
      lockedDriver({ ...o, onLockWait: (h, ms) => (o.onLockWait?.(h, ms), releaseFirst()) }, BASE),
    );
    const [, run] = await Promise.all([first, second]);
    deployed.push("40");
    assert.equal(run.code, EXIT_OK, run.out);
    assert.match(
      run.out,
      /stack prod is locked by another canary command \(pid \d+ on .*canaryPercent 20/,
    );
    assert.deepEqual(deployed, ["20", "40"]);
    assert.match(fs.readFileSync(stackFile, "utf8"), /canary-release:canaryPercent: "40"/);
    assert.ok(!fs.existsSync(`${stackFile}.lock`), "the lock is removed on exit");
    assert.ok(!fs.existsSync(`${stackFile}.lock-holder`), "and so is the holder file");
  });

  it("a lock held past --lock-wait exits 4 naming the stack and the holder; nothing written", async () => {
    const holder = fileStackLock({ stackName: "prod", stackFile });
    let driver: MemoryStackDriver | undefined;
    let run: Awaited<ReturnType<typeof cli>> | undefined;
    await holder.hold("canary rollout 5,20", async () => {
      run = await cli(["step", "40", "--stack", "prod", "--lock-wait", "1s"], project, (o) => {
        driver = lockedDriver(o);
        return driver;
      });
    });
    assert.ok(run !== undefined && driver !== undefined);
    assert.equal(run.code, EXIT_LOCKED, run.out);
    assert.match(
      run.out,
      new RegExp(
        `stack prod is locked by another canary command: pid ${process.pid} on .*canary rollout 5,20`,
      ),
    );
    assert.match(run.out, /Waited 1s for it \(--lock-wait, or CANARY_LOCK_WAIT\)/);
    assert.deepEqual(driver.writes, [], "nothing written, no update");
    assert.equal(fs.readFileSync(stackFile, "utf8"), PROD_YAML);
    assert.equal(run.opened[0].lockWaitMs, 1_000);
  });

  it("--lock-wait comes from CANARY_LOCK_WAIT by default; a bad value is refused with exit 2", async () => {
    const saved = process.env.CANARY_LOCK_WAIT;
    try {
      process.env.CANARY_LOCK_WAIT = "5s";
      const run = await cli(["step", "40", "--stack", "prod"], project, lockedDriver);
      assert.equal(run.code, EXIT_OK, run.out);
      assert.equal(run.opened[0].lockWaitMs, 5_000);
      process.env.CANARY_LOCK_WAIT = "soon";
      const bad = await cli(["step", "40", "--stack", "prod"], project, lockedDriver);
      assert.equal(bad.code, EXIT_REFUSED, bad.out);
      assert.match(bad.out, /"soon" is not a wait: give a duration from 0s to 1h/);
      assert.deepEqual(bad.opened, []);
    } finally {
      if (saved === undefined) delete process.env.CANARY_LOCK_WAIT;
      else process.env.CANARY_LOCK_WAIT = saved;
    }
  });

  it("a holder that crashed (SIGKILL) blocks until its lock is stale, then it is taken over", async () => {
    // A real process takes the lock and dies without releasing it.
    const child = spawn(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        "-e",
        `require(${JSON.stringify(path.join(ROOT, "automation", "stackLock.ts"))})` +
          `.fileStackLock({ stackName: "prod", stackFile: ${JSON.stringify(stackFile)} })` +
          `.hold("canaryPercent 30", () => { console.log("locked"); return new Promise(() => {}); })` +
          // A pending promise keeps no process alive, and proper-lockfile's refresh timer is
          // unref'd: without a timer of its own the holder could exit by itself (releasing the
          // lock on exit) in the moment before the SIGKILL, which made this test flaky.
          `; setInterval(() => {}, 1 << 30)`,
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
    );
    let childOut = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        childOut += String(chunk);
        if (/locked/.test(childOut)) resolve();
      });
      child.on("exit", (code) =>
        reject(new Error(`the holder exited early (${code}): ${childOut}`)),
      );
    });
    child.removeAllListeners("exit");
    assert.ok(fs.existsSync(`${stackFile}.lock`), `the holder took the lock: ${childOut}`);
    const died = new Promise((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    assert.ok(child.pid !== undefined);
    process.kill(child.pid, "SIGKILL");
    assert.equal(await died, "SIGKILL");
    assert.ok(fs.existsSync(`${stackFile}.lock`), "SIGKILL leaves the lock behind");

    const blocked = await cli(
      ["step", "40", "--stack", "prod", "--lock-wait", "0s"],
      project,
      lockedDriver,
    );
    assert.equal(blocked.code, EXIT_LOCKED, blocked.out);
    assert.match(blocked.out, new RegExp(`pid ${child.pid} on .*canaryPercent 30`));

    // Staleness without waiting for it: the lock's mtime as if its holder died long ago.
    const past = new Date(Date.now() - 2 * LOCK_STALE_MS);
    fs.utimesSync(`${stackFile}.lock`, past, past);
    const run = await cli(
      ["step", "40", "--stack", "prod", "--lock-wait", "0s"],
      project,
      lockedDriver,
    );
    assert.equal(run.code, EXIT_OK, run.out);
    assert.match(fs.readFileSync(stackFile, "utf8"), /canary-release:canaryPercent: "40"/);
    assert.ok(!fs.existsSync(`${stackFile}.lock`));
  });

  it("an update whose outputs do not show the change exits 5, never 0", async () => {
    // Another update (a plain `pulumi up` from an older checkout) put 0 back meanwhile.
    class Reverted extends MemoryStackDriver {
      override async outputs(): Promise<Readonly<Record<string, unknown>>> {
        return { ...(await super.outputs()), canaryPercent: 0 };
      }
    }
    const run = await cli(["step", "40", "--stack", "prod", "--json"], project, (o) => {
      const inner = lockedDriver(o);
      return new Reverted({ config: BASE, stackFile, ...(inner.lock ? { lock: inner.lock } : {}) });
    });
    assert.equal(run.code, EXIT_NOT_DEPLOYED, run.out);
    assert.match(run.out, /succeeded, but its outputs do not show canaryPercent 40/);
    assert.match(run.out, /canaryPercent: set 40, deployed 0/);
    assert.match(run.out, /"exitCode": 5/);
  });

  it("a rollout whose step is not deployed fails with exit 5", async () => {
    class Reverted extends MemoryStackDriver {
      override async outputs(): Promise<Readonly<Record<string, unknown>>> {
        const outputs = await super.outputs();
        // The first update's outputs are right; the next one's are not.
        return this.upCalls >= 2 ? { ...outputs, canaryPercent: 5 } : outputs;
      }
    }
    const run = await cli(
      [
        "rollout",
        "--stack",
        "prod",
        "--steps",
        "5,20",
        "--interval",
        "1s",
        "--prometheus",
        "http://127.0.0.1:9",
        "--min-success-rate",
        "99",
        "--max-p99-ms",
        "500",
      ],
      project,
      () => new Reverted({ config: BASE, stackFile }),
    );
    assert.equal(run.code, EXIT_NOT_DEPLOYED, run.out);
    assert.match(run.out, /canaryPercent: set 20, deployed 5/);
  });
});
