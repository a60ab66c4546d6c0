// Issue 15: the revision tester under faults and hostile input, each case reproducing a fault
// found on loopback (the real process against stand-ins on 127.0.0.1, or its pure parts). Every
// describe block counts what it tried; the figures are printed at the end for the closing note.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REVISION_ANNOTATIONS } from "../../common/pipelineContract";
import { SMOKE_TEST_LABEL, SMOKE_TEST_RESULT_ANNOTATION } from "../route/revisionGate";
import { FakeServer, sendJson } from "../../test/support/fakeHttp";
import {
  FakeKnativeApi,
  Json,
  postBinary,
  resourceEvent,
  stopAllTesters,
  TargetApp,
  TESTER_SCRIPT,
  TesterProcess,
} from "../../test/support/revisionTesterHarness";

const TESTER_DIR = path.dirname(TESTER_SCRIPT);
const SHARED_DIR = path.join(TESTER_DIR, "..", "shared");

interface GithubModule {
  githubRepositoryProblem(owner: unknown, repo: unknown): string | undefined;
}
interface CommitStatusModule {
  githubRepository(cloneUrl: string): { owner: string; repo: string } | undefined;
  commitStatusRequest(
    annotations: Record<string, string>,
    verdict: string,
    result: { reason: string },
  ): { skip?: string; path?: string; body?: Json };
}
const github = require(path.join(SHARED_DIR, "github.js")) as GithubModule;
const commitStatus = require(path.join(TESTER_DIR, "commitStatus.js")) as CommitStatusModule;

const SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const REVISION = "hello-0a1b2c3";
const BUILT_FROM = {
  [REVISION_ANNOTATIONS.commit]: SHA,
  [REVISION_ANNOTATIONS.repository]: "https://github.com/octo/hello.git",
};

/** What the suite tried, for the closing note of issue 15. */
const figures = {
  casesTried: 0,
  faultsSurvived: 0,
  badInputsRefused: 0,
};

after(() => {
  // Printed for the closing note; not an assertion.
  process.stdout.write(`      revision tester fault figures: ${JSON.stringify(figures)}\n`);
});

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function at(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    assert.ok(isRecord(current), `expected an object before .${key}`);
    current = current[key];
  }
  return current;
}

// ---- fault 8: names GitHub does not allow ---------------------------------------------------

describe("revision tester faults: GitHub names (issue 15, fault 8)", () => {
  it("refuses '..' and '.' as owner or repository in clone URLs, as GitHub's rules do", () => {
    const refused = [
      "https://github.com/../hello.git",
      "https://github.com/octo/...git",
      "https://github.com/octo/..",
      "https://github.com/octo/.",
      "https://github.com/./hello",
      "git@github.com:../..git",
      "git@github.com:octo/...git",
      "https://github.com/-octo/hello.git",
      "https://github.com/octo-/hello.git",
      "https://github.com/oc--to/hello.git",
      "https://github.com/oc_to/hello.git",
      `https://github.com/${"o".repeat(40)}/hello.git`,
      `https://github.com/octo/${"r".repeat(101)}.git`,
    ];
    for (const url of refused) {
      figures.casesTried++;
      assert.equal(commitStatus.githubRepository(url), undefined, url);
      const request = commitStatus.commitStatusRequest(
        { ...BUILT_FROM, [REVISION_ANNOTATIONS.repository]: url },
        "passed",
        { reason: "" },
      );
      assert.equal(request.path, undefined, `${url} must not become an API path`);
      assert.match(request.skip ?? "", /GitHub/);
      figures.badInputsRefused++;
    }
    const accepted: Array<[string, string, string]> = [
      ["https://github.com/octo/hello.git", "octo", "hello"],
      ["https://github.com/o-c-t-o/.hello.git", "o-c-t-o", ".hello"],
      ["https://github.com/octo/a..b.git", "octo", "a..b"],
      ["git@github.com:octo/hello_world.js.git", "octo", "hello_world.js"],
      [`https://github.com/${"o".repeat(39)}/${"r".repeat(100)}`, "o".repeat(39), "r".repeat(100)],
    ];
    for (const [url, owner, repo] of accepted) {
      figures.casesTried++;
      assert.deepEqual(commitStatus.githubRepository(url), { owner, repo }, url);
    }
  });

  it("exports githubRepositoryProblem, naming the bad value and what is valid", () => {
    const cases: Array<[unknown, unknown, RegExp | undefined]> = [
      ["octo", "hello", undefined],
      ["..", "hello", /owner must be a GitHub user .* got "\.\."/],
      ["octo", "..", /repository must be .* not "\." or "\.\."\), got "\.\."/],
      ["octo", ".", /got "\."/],
      ["octo", "", /repository/],
      ["", "hello", /owner/],
      ["a/b", "hello", /owner/],
      ["octo", "a/b", /repository/],
      [undefined, "hello", /owner/],
      ["octo", 5, /repository/],
    ];
    for (const [owner, repo, problem] of cases) {
      figures.casesTried++;
      const found = github.githubRepositoryProblem(owner, repo);
      if (problem === undefined) assert.equal(found, undefined);
      else {
        assert.match(found ?? "", problem, JSON.stringify([owner, repo]));
        figures.badInputsRefused++;
      }
    }
  });
});
