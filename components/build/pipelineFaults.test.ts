// Issue 15, the build pipeline's faults: each case reproduces a fault found with hostile input or
// a misbehaving server on loopback, run against the real step programs (processes) with
// stand-in tools and stand-in servers. Each suite prints its figures (cases tried, faults
// survived, bad inputs refused) for the closing note.
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PIPELINE_SCRIPTS_DIR } from "./buildPipelineManifests";
import { FakeServer, sendJson } from "../../test/support/fakeHttp";

const SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a program with exactly `env` (plus PATH), killed after `timeoutMs`. */
function run(
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 20000,
): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `canary-faults-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** The figures a suite reports, printed after it. */
class Tally {
  tried = 0;
  survived = 0;
  refused = 0;
  constructor(private readonly fault: string) {}
  print(): void {
    console.log(
      `      ${this.fault}: ${this.tried} cases tried, ${this.survived} faults survived, ` +
        `${this.refused} bad inputs refused`,
    );
  }
}

// ---- fault 9: symlinks leaving the checkout --------------------------------------------------

describe("issue 15 fault 9: build-image.sh refuses symlinks that leave the checkout", () => {
  const script = path.join(PIPELINE_SCRIPTS_DIR, "build-image.sh");
  const tally = new Tally("fault 9 (symlinks)");
  after(() => tally.print());
  let bin: string;

  before(() => {
    // A stand-in buildah that records that it ran and, for push, writes a digest.
    bin = tempDir("bin");
    fs.writeFileSync(
      path.join(bin, "buildah"),
      [
        "#!/bin/sh",
        'echo "$@" >>"$BUILDAH_LOG"',
        'for arg in "$@"; do',
        '  case "$arg" in --digestfile=*) printf "sha256:%064d" 0 >"${arg#--digestfile=}";; esac',
        "done",
      ].join("\n"),
      { mode: 0o755 },
    );
  });

  /**
   * A checkout with app/Dockerfile, beside it (outside the checkout) a directory holding a
   * stand-in of the mounted registry credentials, as a pod has them.
   */
  function setup(): { root: string; source: string; secrets: string; env: Record<string, string> } {
    const root = tempDir("symlinks");
    const source = path.join(root, "workspace", "source");
    const secrets = path.join(root, "workspace", "dockerconfig");
    fs.mkdirSync(path.join(source, "app"), { recursive: true });
    fs.mkdirSync(secrets, { recursive: true });
    fs.writeFileSync(path.join(source, "app", "Dockerfile"), "FROM scratch\nCOPY . /\n");
    fs.writeFileSync(path.join(secrets, "config.json"), '{"auths":{"r":{"auth":"c2VjcmV0"}}}');
    fs.writeFileSync(path.join(secrets, "Dockerfile"), "FROM scratch\n");
    return {
      root,
      source,
      secrets,
      env: {
        PATH: `${bin}:${process.env.PATH ?? ""}`,
        BUILDAH_LOG: path.join(root, "buildah.log"),
        IMAGE_REPOSITORY: "registry.example.com/team/hello",
        REVISION: SHA,
        SOURCE_DIR: source,
        CONTEXT_DIR: "app",
        DOCKERFILE: "Dockerfile",
        DIGEST_FILE: path.join(root, "digest"),
      },
    };
  }

  it("refuses a context dir or Dockerfile whose real path is outside the checkout, before buildah runs", async () => {
    type Case = {
      readonly what: string;
      readonly links: (s: { source: string; secrets: string }) => void;
      readonly env: Record<string, string>;
      readonly refused: RegExp;
    };
    const cases: Case[] = [
      {
        what: "the context dir is a symlink to the credentials' directory",
        links: ({ source, secrets }) => fs.symlinkSync(secrets, path.join(source, "ctx")),
        env: { CONTEXT_DIR: "ctx" },
        refused: /CONTEXT_DIR 'ctx' resolves to .*dockerconfig, outside the checkout/,
      },
      {
        what: "the context dir is a relative symlink climbing out",
        links: ({ source }) => fs.symlinkSync("../dockerconfig", path.join(source, "ctx")),
        env: { CONTEXT_DIR: "ctx" },
        refused: /CONTEXT_DIR 'ctx' resolves to .*dockerconfig, outside the checkout/,
      },
      {
        what: "a parent of the context dir is a symlink out",
        links: ({ source, secrets }) => {
          fs.mkdirSync(path.join(secrets, "sub"));
          fs.writeFileSync(path.join(secrets, "sub", "Dockerfile"), "FROM scratch\n");
          fs.symlinkSync(secrets, path.join(source, "up"));
        },
        env: { CONTEXT_DIR: "up/sub" },
        refused: /CONTEXT_DIR 'up\/sub' resolves to .*dockerconfig\/sub, outside the checkout/,
      },
      {
        what: "the Dockerfile is a symlink to the credentials",
        links: ({ source, secrets }) => {
          fs.rmSync(path.join(source, "app", "Dockerfile"));
          fs.symlinkSync(path.join(secrets, "config.json"), path.join(source, "app", "Dockerfile"));
        },
        env: {},
        refused: /DOCKERFILE 'Dockerfile' resolves to .*config\.json, outside the checkout/,
      },
      {
        what: "the Dockerfile is a relative symlink climbing out",
        links: ({ source }) => {
          fs.rmSync(path.join(source, "app", "Dockerfile"));
          fs.symlinkSync("../../dockerconfig/Dockerfile", path.join(source, "app", "Dockerfile"));
        },
        env: {},
        refused: /DOCKERFILE 'Dockerfile' resolves to .*dockerconfig\/Dockerfile, outside/,
      },
      {
        what: "the Dockerfile sits in a directory that is a symlink out",
        links: ({ source, secrets }) => fs.symlinkSync(secrets, path.join(source, "app", "d")),
        env: { DOCKERFILE: "d/Dockerfile" },
        refused: /DOCKERFILE 'd\/Dockerfile' resolves to .*dockerconfig\/Dockerfile, outside/,
      },
      {
        what: "the Dockerfile reached through a link to the checkout's parent",
        links: ({ source }) => fs.symlinkSync("..", path.join(source, "parent")),
        env: { CONTEXT_DIR: ".", DOCKERFILE: "parent/dockerconfig/Dockerfile" },
        refused:
          /DOCKERFILE 'parent\/dockerconfig\/Dockerfile' resolves to .*, outside the checkout/,
      },
    ];
    for (const c of cases) {
      const { source, secrets, env } = setup();
      c.links({ source, secrets });
      const result = await run("sh", [script], { ...env, ...c.env });
      tally.tried++;
      assert.equal(result.code, 1, `${c.what}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, c.refused, c.what);
      assert.equal(fs.existsSync(env.BUILDAH_LOG), false, `${c.what}: buildah must not run`);
      tally.survived++;
      tally.refused++;
    }
  });

  it("still builds symlinks that stay inside the checkout, and a checkout reached through a link", async () => {
    const cases: Array<[string, (s: { root: string; source: string }) => Record<string, string>]> =
      [
        [
          "a context dir linked to another directory of the checkout",
          ({ source }) => {
            fs.symlinkSync("app", path.join(source, "ctx"));
            return { CONTEXT_DIR: "ctx" };
          },
        ],
        [
          "a Dockerfile linked to another file of the checkout",
          ({ source }) => {
            fs.writeFileSync(path.join(source, "Containerfile"), "FROM scratch\n");
            fs.rmSync(path.join(source, "app", "Dockerfile"));
            fs.symlinkSync("../Containerfile", path.join(source, "app", "Dockerfile"));
            return {};
          },
        ],
        [
          "the workspace path itself is a symlink (as a volume mount may be)",
          ({ root, source }) => {
            fs.symlinkSync(source, path.join(root, "linked-source"));
            return { SOURCE_DIR: path.join(root, "linked-source") };
          },
        ],
      ];
    for (const [what, prepare] of cases) {
      const { root, source, env } = setup();
      const change = prepare({ root, source });
      const result = await run("sh", [script], { ...env, ...change });
      tally.tried++;
      assert.equal(result.code, 0, `${what}: ${result.stderr}`);
      assert.equal(fs.readFileSync(env.BUILDAH_LOG, "utf8").split("\n").length - 1, 2, what);
    }
  });
});

// ---- fault 8: `..` as owner or repository ----------------------------------------------------

describe("issue 15 fault 8: commit-status refuses owners and repositories GitHub would not name", () => {
  const script = path.join(PIPELINE_SCRIPTS_DIR, "commit-status.js");
  const TOKEN = "ghs_faultEightToken";
  const tally = new Tally("fault 8 (names)");
  after(() => tally.print());
  let github: FakeServer;
  let apiUrl: string;

  beforeEach(async () => {
    github = new FakeServer((_req, res) => sendJson(res, 201, { id: 1 }));
    apiUrl = await github.start();
  });
  afterEach(() => github.stop());

  const post = (repo: string) =>
    run(process.execPath, [script], {
      GITHUB_API_URL: `${apiUrl}/api/v3`,
      GITHUB_TOKEN: TOKEN,
      REPO_FULL_NAME: repo,
      REVISION: SHA,
      STATE: "success",
      REQUEST_TIMEOUT_MS: "2000",
    });

  it("posts nothing for `..`, `.` or names outside GitHub's rules, and says which part is wrong", async () => {
    const bad: Array<[string, RegExp]> = [
      ["../hello", /owner "\.\." /],
      ["octo/..", /repository "\.\." /],
      ["./hello", /owner "\." /],
      ["octo/.", /repository "\." /],
      ["..%2F../x", /REPO_FULL_NAME must be <owner>\/<repository>/],
      ["-octo/hello", /owner "-octo" .*must not start or end with "-"/],
      ["octo-/hello", /owner "octo-" .*must not start or end with "-"/],
      ["oc_to/hello", /owner "oc_to" .*A-Z, a-z, 0-9 and "-"/],
      ["oc.to/hello", /owner "oc.to" /],
      [`${"o".repeat(40)}/hello`, /owner .*1 to 39 characters/],
      [`octo/${"r".repeat(101)}`, /repository .*1 to 100 characters/],
      ["octo/hel lo", /REPO_FULL_NAME must be <owner>\/<repository>/],
      ["octo/hello/extra", /REPO_FULL_NAME must be <owner>\/<repository>/],
    ];
    for (const [repo, message] of bad) {
      const result = await post(repo);
      tally.tried++;
      assert.equal(result.code, 0, `${repo}: a status is a courtesy, the step still exits 0`);
      assert.match(result.stdout, message, repo);
      assert.doesNotMatch(result.stdout + result.stderr, new RegExp(TOKEN));
      assert.deepEqual(
        github.requests.map((r) => r.url),
        [],
        `${repo}: nothing may be posted (it would go to another API path)`,
      );
      tally.survived++;
      tally.refused++;
    }
  });

  it("still posts for names GitHub allows, at exactly their path", async () => {
    const good = [
      "octo/hello",
      "Octo-Org/my.repo_1",
      "o/.github",
      "a1/..hidden",
      `${"o".repeat(39)}/${"r".repeat(100)}`,
    ];
    for (const repo of good) {
      github.requests.length = 0;
      const result = await post(repo);
      tally.tried++;
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(
        github.requests.map((r) => r.path),
        [`/api/v3/repos/${repo}/statuses/${SHA}`],
        `${repo}: ${result.stdout}`,
      );
    }
  });
});
