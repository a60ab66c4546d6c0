// The stack file under git: show what a command changed and, on request, commit it. Git runs
// as a child process with an argument array (no shell), in the project directory.
import { execFile } from "child_process";
import * as path from "path";

export interface GitResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runGit(args: readonly string[], cwd: string): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile("git", [...args], { cwd, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") {
        // git could not be started at all (e.g. ENOENT): not a git result.
        reject(error);
        return;
      }
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

/** Whether `dir` is inside a git work tree (false too when git is not installed). */
export async function isGitCheckout(dir: string): Promise<boolean> {
  try {
    const result = await runGit(["rev-parse", "--is-inside-work-tree"], dir);
    return result.code === 0 && result.stdout.trim() === "true";
  } catch {
    return false;
  }
}

async function checked(args: readonly string[], cwd: string): Promise<GitResult> {
  const result = await runGit(args, cwd);
  if (result.code !== 0) {
    throw new Error(`git ${args.join(" ")} failed (exit ${result.code}): ${result.stderr.trim()}`);
  }
  return result;
}

async function isTracked(dir: string, relative: string): Promise<boolean> {
  return (await runGit(["ls-files", "--error-unmatch", "--", relative], dir)).code === 0;
}

/**
 * `git diff -- <file>`: the file's uncommitted changes. A file git does not track yet is shown
 * whole, as an addition.
 */
export async function stackFileDiff(dir: string, file: string): Promise<string> {
  const relative = path.relative(dir, file);
  if (await isTracked(dir, relative)) {
    return (await checked(["diff", "--no-color", "--", relative], dir)).stdout;
  }
  // --no-index exits 1 when the files differ, which they do here.
  const result = await runGit(
    ["diff", "--no-color", "--no-index", "--", "/dev/null", relative],
    dir,
  );
  if (result.code > 1) throw new Error(`git diff --no-index failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/**
 * Commits the file alone (other staged or unstaged changes stay out of the commit) with
 * `message`; returns the new commit's id.
 */
export async function commitStackFile(dir: string, file: string, message: string): Promise<string> {
  const relative = path.relative(dir, file);
  await checked(["add", "--", relative], dir);
  await checked(["commit", "--quiet", "--message", message, "--", relative], dir);
  return (await checked(["rev-parse", "HEAD"], dir)).stdout.trim();
}
