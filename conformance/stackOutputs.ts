// The last outputs of a stack, which the step guard compares with: from a file saved with
// `pulumi stack output --json` (offline, CI), else from the Pulumi CLI and the backend it is
// logged in to. Never an error: without them the guard is listed as not checked, with why.
import { execFile } from "child_process";
import * as fs from "fs";
import type { OutputsRead } from "./stackChecks";

/**
 * `--outputs FILE` (only with one stack) or `--outputs STACK=FILE` (repeatable) to the file of
 * each stack, or what is wrong with them.
 */
export function outputsFiles(
  values: readonly string[],
  stacks: readonly string[],
): { files: ReadonlyMap<string, string> } | { problem: string } {
  const files = new Map<string, string>();
  for (const value of values) {
    // A file whose name has `=` in it can be given as ./name.
    const match = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(value);
    if (match !== null && !stacks.includes(match[1])) {
      return {
        problem: `--outputs ${value}: no stack ${match[1]} is checked; stacks: ${stacks.join(", ")}`,
      };
    }
    const [stack, file] = match !== null ? [match[1], match[2]] : [undefined, value];
    if (stack === undefined && stacks.length !== 1) {
      return {
        problem:
          `--outputs ${value}: which stack's outputs? With ${stacks.length} stacks ` +
          `(${stacks.join(", ")}) give --outputs STACK=FILE, or pick one with --stack NAME`,
      };
    }
    const name = stack ?? stacks[0];
    if (files.has(name)) {
      return { problem: `--outputs ${value}: stack ${name} already has ${files.get(name)}` };
    }
    files.set(name, file);
  }
  return { files };
}

/** The outputs in `file`, the JSON object `pulumi stack output --json` prints. */
export function readOutputsFile(file: string): OutputsRead {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    return { unavailable: `--outputs ${file}: ${(error as NodeJS.ErrnoException).message}` };
  }
  return parseOutputs(text, `--outputs ${file}`);
}

function parseOutputs(text: string, from: string): OutputsRead {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {
      unavailable: `${from} is not JSON; save it with \`pulumi stack output --json > FILE\``,
    };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return {
      unavailable: `${from} is not a JSON object of outputs, as \`pulumi stack output --json\` prints`,
    };
  }
  return { outputs: parsed as Record<string, unknown>, from };
}

const PULUMI_TIMEOUT_MS = 60_000;

/**
 * `pulumi stack output --json --stack STACK` in the project directory. Any failure (no CLI, not
 * logged in, no such stack in this backend) is a reason the guard was not checked.
 */
export function readBackendOutputs(
  stack: string,
  projectDir: string,
  env: NodeJS.ProcessEnv,
): Promise<OutputsRead> {
  const args = ["stack", "output", "--json", "--stack", stack, "--non-interactive"];
  return new Promise((resolve) => {
    const child = execFile(
      "pulumi",
      args,
      {
        cwd: projectDir,
        env: { ...env, PULUMI_SKIP_UPDATE_CHECK: "true" },
        timeout: PULUMI_TIMEOUT_MS,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error === null) {
          return resolve(parseOutputs(stdout, `the last deployment of stack ${stack}`));
        }
        if ((error as NodeJS.ErrnoException).code === "ENOENT") {
          return resolve({
            unavailable:
              "the Pulumi CLI is not on PATH; save the outputs where it works " +
              "(`pulumi stack output --json --stack " +
              `${stack} > ${stack}-outputs.json\`) and pass --outputs ${stack}=${stack}-outputs.json`,
          });
        }
        const said = (stderr || error.message).trim().split("\n")[0];
        resolve({ unavailable: `\`pulumi ${args.join(" ")}\` failed: ${said}` });
      },
    );
    // Nothing to answer: a prompt (a passphrase) must fail, not wait.
    child.stdin?.end();
  });
}
