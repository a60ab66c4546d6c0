// Where the Pulumi project and a stack's config file are.
import * as fs from "fs";
import * as path from "path";
import { CanaryRefusedError } from "./errors";

/**
 * The directory holding Pulumi.yaml: `start` itself or its nearest parent that has one.
 * Undefined when there is none up to the file system root.
 */
export function findProjectDir(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The project directory from `--cwd` (which must hold Pulumi.yaml) or found from `cwd` up. */
export function resolveProjectDir(option: string | undefined, cwd: string): string {
  if (option !== undefined) {
    const dir = path.resolve(cwd, option);
    if (!fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
      throw new CanaryRefusedError(
        `--cwd ${option}: there is no Pulumi.yaml in ${dir}; give the project directory`,
      );
    }
    return dir;
  }
  const found = findProjectDir(cwd);
  if (found === undefined) {
    throw new CanaryRefusedError(
      `no Pulumi.yaml in ${cwd} or any directory above it: run the command inside the ` +
        `project, or give it with --cwd <project directory>`,
    );
  }
  return found;
}

/** A stack's own name: `prod` of a fully qualified `org/project/prod`, as the Pulumi CLI has it. */
export function stackShortName(stackName: string): string {
  return stackName.split("/").pop() ?? stackName;
}

/** `Pulumi.<stack>.yaml` in the project directory, named by the stack's own name. */
export function stackFilePath(projectDir: string, stackName: string): string {
  return path.join(projectDir, `Pulumi.${stackShortName(stackName)}.yaml`);
}

/**
 * The file's text, or why it cannot be read, as people read it: `cannot be read (ENOENT)`.
 * For inputs the user names (a metrics file, a rollout record), where any failure is refused.
 */
export function readTextOrWhy(file: string): { text: string } | { why: string } {
  try {
    return { text: fs.readFileSync(file, "utf8") };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { why: `cannot be read${typeof code === "string" ? ` (${code})` : ""}` };
  }
}

/** The file's text, or undefined when it does not exist. */
export function readFileIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
