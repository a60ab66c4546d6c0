// A project directory with a prod stack file and a stand-in `pulumi` (fakePulumi.js) on a bin
// directory of its own, for tests that run the canary library or the `canary` bin against it.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");

export interface FakeStackState {
  readonly outputs?: Readonly<Record<string, unknown>>;
  readonly version?: number;
  /** canaryPercent of each update, in the order the updates ended. */
  readonly deployments?: readonly number[];
}

export interface FakePulumiProject {
  readonly tmp: string;
  /** The project directory: Pulumi.yaml and Pulumi.prod.yaml. */
  readonly project: string;
  readonly statePath: string;
  /** PATH with the fake `pulumi` first, and FAKE_PULUMI_STATE: the environment of a child. */
  readonly env: NodeJS.ProcessEnv;
  readonly stackYaml: () => string;
  readonly stack: (name?: string) => FakeStackState;
  /** Replaces the fake's state (see fakePulumi.js), keeping the prod stack's outputs. */
  readonly writeState: (extra?: Record<string, unknown>) => void;
  readonly remove: () => void;
}

export function fakePulumiProject(
  prodYaml: string,
  outputs: Readonly<Record<string, unknown>>,
): FakePulumiProject {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "canary-fake-"));
  const project = path.join(tmp, "project");
  fs.mkdirSync(project);
  fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
  fs.writeFileSync(path.join(project, "Pulumi.prod.yaml"), prodYaml);
  const bin = path.join(tmp, "bin");
  fs.mkdirSync(bin);
  const fake = path.join(ROOT, "test", "support", "fakePulumi.js");
  fs.writeFileSync(
    path.join(bin, "pulumi"),
    `#!/bin/sh\nexec "${process.execPath}" "${fake}" "$@"\n`,
    { mode: 0o755 },
  );
  const statePath = path.join(tmp, "state.json");
  fs.writeFileSync(`${statePath}.calls`, "");
  const writeState = (extra: Record<string, unknown> = {}): void => {
    fs.writeFileSync(statePath, JSON.stringify({ stacks: { prod: { outputs } }, ...extra }));
  };
  writeState();
  // The fake answers `pulumi version` at once; checks that the shim runs at all.
  execFileSync(path.join(bin, "pulumi"), ["version"], {
    env: { ...process.env, FAKE_PULUMI_STATE: statePath },
  });
  return {
    tmp,
    project,
    statePath,
    env: {
      ...process.env,
      PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
      FAKE_PULUMI_STATE: statePath,
    },
    stackYaml: () => fs.readFileSync(path.join(project, "Pulumi.prod.yaml"), "utf8"),
    stack: (name = "prod") => {
      const state = JSON.parse(fs.readFileSync(statePath, "utf8")) as {
        stacks: Record<string, FakeStackState>;
      };
      return state.stacks[name];
    },
    writeState,
    remove: () => fs.rmSync(tmp, { recursive: true, force: true }),
  };
}
