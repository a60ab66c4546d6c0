// The `canary` command as a user installs it for running, not developing: `npm ci --omit=dev`
// in a copy of the project (its own files, no tests), then the bin. It needs ts-node and
// typescript at run time (it runs the TypeScript CLI from source), so they are dependencies,
// declared on purpose rather than reached through @pulumi/pulumi's optional peers.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_ROOT } from "../conformance/programRunner";

const LEFT_OUT = new Set(["node_modules", ".git", "e2e", "test", "bench", ".e2e", "rendered"]);

describe("canary after npm ci --omit=dev", function () {
  this.timeout(10 * 60_000);
  let copy: string | undefined;

  after(() => {
    if (copy !== undefined) fs.rmSync(copy, { recursive: true, force: true });
  });

  it("installs without devDependencies and runs: help, and a refusal as JSON", () => {
    copy = fs.mkdtempSync(path.join(os.tmpdir(), "canary-omit-dev-"));
    const project = copy;
    fs.cpSync(PROJECT_ROOT, project, {
      recursive: true,
      filter: (source) => !LEFT_OUT.has(path.relative(PROJECT_ROOT, source).split(path.sep)[0]),
    });
    const install = spawnSync("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund"], {
      cwd: project,
      encoding: "utf8",
    });
    assert.equal(install.status, 0, `npm ci --omit=dev: ${install.stderr}`);
    for (const dev of ["mocha", "prettier", "puppeteer-core"]) {
      assert.ok(!fs.existsSync(path.join(project, "node_modules", dev)), `${dev} was installed`);
    }
    const bin = path.join(project, "automation", "canary.js");
    const help = spawnSync(process.execPath, [bin, "rollout", "--help"], {
      cwd: project,
      encoding: "utf8",
    });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Usage: canary rollout/);
    const refused = spawnSync(
      process.execPath,
      [bin, "step", "20", "--stack", "nosuch", "--json"],
      {
        cwd: project,
        encoding: "utf8",
      },
    );
    assert.equal(refused.status, 2, refused.stderr);
    const answer = JSON.parse(refused.stdout) as { ok: boolean; error: string };
    assert.equal(answer.ok, false);
    assert.match(answer.error, /unknown stack nosuch/);
  });
});
