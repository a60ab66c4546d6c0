#!/usr/bin/env node
// @ts-check
// Which Pulumi stacks a change affects, for the preview and `pulumi up` workflows.
//
// A change to Pulumi.<stack>.yaml affects that stack; a change to the program (or to the list of
// managed stacks) affects every stack CI manages. Stacks not in .github/pulumi-stacks.txt are
// never touched by CI. Node built-ins only: this runs before `npm ci`.
"use strict";

const childProcess = require("child_process");
const fs = require("fs");
const path = require("path");

/** The list of stacks CI previews and updates, relative to the repository root. */
const STACKS_FILE = ".github/pulumi-stacks.txt";

/**
 * Files and directories (`dir/**`) that make up the program: a change to any of them can change
 * what `pulumi up` does to every stack. functions/ is shipped into the cluster by the stack
 * (ConfigMaps, Task scripts); package*.json pin the SDKs and providers; tsconfig.json is read
 * by the TypeScript runtime. The workflows' `paths:` filters must list exactly these plus
 * STACK_FILE_GLOB (a test keeps them in step).
 */
const PROGRAM_PATHS = Object.freeze([
  "Pulumi.yaml",
  "index.ts",
  "config.ts",
  "configKeys.ts",
  "components/**",
  "common/**",
  "functions/**",
  "package.json",
  "package-lock.json",
  "tsconfig.json",
  // The Pulumi CLI version CI deploys with.
  "toolchain/versions.json",
  STACKS_FILE,
]);

/** Stack config files, as a GitHub `paths:` glob (`*` does not cross `/`: root only). */
const STACK_FILE_GLOB = "Pulumi.*.yaml";

const STACK_FILE = /^Pulumi\.([^/]+)\.yaml$/;

/** Pulumi's own rule for stack names; it also keeps file and secret names derived from them safe. */
const STACK_NAME = /^[A-Za-z0-9_.-]+$/;

/** @param {string} file */
function isProgramFile(file) {
  return PROGRAM_PATHS.some((pattern) =>
    pattern.endsWith("/**") ? file.startsWith(pattern.slice(0, -2)) : file === pattern,
  );
}

/**
 * The repository secret holding the kubeconfig of `stack`: secret names allow only letters,
 * digits and underscores (and GitHub upper-cases them), so `prod` -> KUBECONFIG_PROD and
 * `eu-west.1` -> KUBECONFIG_EU_WEST_1.
 * @param {string} stack
 */
function kubeconfigSecretName(stack) {
  return `KUBECONFIG_${stack.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/**
 * Parses the managed-stacks file: one stack name per line, `#` starts a comment.
 * @param {string} text
 * @param {string} [source] file name for error messages
 * @returns {string[]}
 */
function parseStacksFile(text, source = STACKS_FILE) {
  /** @type {string[]} */
  const stacks = [];
  /** @type {Map<string, string>} */
  const bySecret = new Map();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") return;
    const where = `${source}:${index + 1}`;
    if (!STACK_NAME.test(line)) {
      throw new Error(
        `${where}: ${JSON.stringify(line)} is not a stack name; write one name per line, ` +
          "letters, digits, '-', '_' or '.' only",
      );
    }
    if (stacks.includes(line)) throw new Error(`${where}: stack ${line} is listed twice`);
    const secret = kubeconfigSecretName(line);
    const clash = bySecret.get(secret);
    if (clash !== undefined) {
      throw new Error(
        `${where}: stacks ${clash} and ${line} would share the kubeconfig secret ${secret}; ` +
          "rename one of them",
      );
    }
    bySecret.set(secret, line);
    stacks.push(line);
  });
  return stacks;
}

/**
 * @typedef {object} AffectedInput
 * @property {readonly string[] | "all"} changedFiles paths relative to the repository root, or
 *   "all" when there is nothing to compare with (a new branch, a rewritten history)
 * @property {readonly string[]} managedStacks the stacks CI manages
 * @property {readonly string[]} existingStacks stacks whose Pulumi.<stack>.yaml exists at the
 *   commit being previewed or deployed
 *
 * @typedef {object} Affected
 * @property {string[]} stacks the managed stacks to preview or update, in managed order
 * @property {string[]} notes why each stack is in or out, one sentence each
 * @property {string[]} warnings stacks left out that someone should look at
 */

/**
 * Pure: decides the affected stacks from the changed files.
 * @param {AffectedInput} input
 * @returns {Affected}
 */
function affectedStacks({ changedFiles, managedStacks, existingStacks }) {
  /** @type {Map<string, string>} stack -> why it is affected */
  const reasons = new Map();
  /** @type {string[]} */
  const notes = [];
  /** @type {string[]} */
  const warnings = [];

  if (changedFiles === "all") {
    for (const stack of managedStacks) reasons.set(stack, "no earlier commit to compare with");
  } else {
    const programFiles = changedFiles.filter(isProgramFile);
    if (programFiles.length > 0) {
      const shown = programFiles.slice(0, 3).join(", ") + (programFiles.length > 3 ? ", …" : "");
      for (const stack of managedStacks) reasons.set(stack, `the program changed (${shown})`);
    }
    for (const file of changedFiles) {
      const match = STACK_FILE.exec(file);
      if (match === null) continue;
      const stack = match[1];
      if (!managedStacks.includes(stack)) {
        notes.push(`${stack}: ${file} changed, but CI does not manage ${stack} (${STACKS_FILE})`);
      } else if (!reasons.has(stack)) {
        reasons.set(stack, `${file} changed`);
      }
    }
  }

  /** @type {string[]} */
  const stacks = [];
  for (const stack of managedStacks) {
    const reason = reasons.get(stack);
    if (reason === undefined) continue;
    if (!existingStacks.includes(stack)) {
      warnings.push(
        `${stack}: affected (${reason}), but Pulumi.${stack}.yaml does not exist here, so CI ` +
          `neither previews nor updates it. A deleted stack is destroyed by hand ` +
          `(pulumi destroy); otherwise add the file or remove ${stack} from ${STACKS_FILE}`,
      );
      continue;
    }
    stacks.push(stack);
    notes.push(`${stack}: affected, ${reason}`);
  }
  if (stacks.length === 0 && warnings.length === 0) {
    notes.push("no managed stack is affected: nothing to preview or update");
  }
  return { stacks, notes, warnings };
}

/**
 * The job matrix for the affected stacks.
 * @param {readonly string[]} stacks
 * @param {string} [organization] Pulumi organization to qualify stack names with
 */
function stackMatrix(stacks, organization = "") {
  return {
    include: stacks.map((stack) => ({
      stack,
      stackName: organization === "" ? stack : `${organization}/${stack}`,
      kubeconfigSecret: kubeconfigSecretName(stack),
    })),
  };
}

/** @param {string} rev @param {string} cwd */
function commitExists(rev, cwd) {
  const result = childProcess.spawnSync("git", ["cat-file", "-e", `${rev}^{commit}`], { cwd });
  return result.status === 0;
}

/**
 * Files changed between two commits, or "all" when `base` is absent (all zeros: a new branch)
 * or unknown to this clone (a force-push rewrote it away).
 * @param {string} base
 * @param {string} head
 * @param {string} cwd
 * @returns {{files: string[] | "all", warning?: string}}
 */
function changedFilesBetween(base, head, cwd) {
  if (!commitExists(head, cwd)) {
    throw new Error(`commit ${head} (--head) is not in this clone; check out with fetch-depth: 0`);
  }
  if (base === "" || /^0+$/.test(base)) return { files: "all" };
  if (!commitExists(base, cwd)) {
    return {
      files: "all",
      warning: `commit ${base} (--base) is not in this clone (history rewritten?): every managed stack counts as changed`,
    };
  }
  // Three dots: what `head` changed since it forked from `base`, not what `base` gained since.
  // --no-renames lists a renamed stack file under both names: the old one as deleted.
  const diff = childProcess.spawnSync(
    "git",
    ["diff", "--name-only", "--no-renames", "-z", `${base}...${head}`],
    { cwd, encoding: "utf8" },
  );
  if (diff.status !== 0) {
    throw new Error(`git diff ${base}...${head} failed: ${diff.stderr.trim()}`);
  }
  return { files: diff.stdout.split("\0").filter((file) => file !== "") };
}

/** @param {string} dir */
function existingStacksIn(dir) {
  return fs
    .readdirSync(dir)
    .map((file) => STACK_FILE.exec(file))
    .flatMap((match) => (match === null ? [] : [match[1]]));
}

const USAGE =
  "usage: affected-stacks.js --base <commit, or empty/all zeros for none> --head <commit> " +
  "[--stacks-file <path>]";

/**
 * @param {readonly string[]} argv
 * @returns {{base: string, head: string, stacksFile: string}}
 */
function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const options = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    const value = argv[i + 1];
    if (!["--base", "--head", "--stacks-file"].includes(name)) {
      throw new Error(`unexpected argument ${JSON.stringify(name)}; ${USAGE}`);
    }
    if (value === undefined) throw new Error(`${name} needs a value; ${USAGE}`);
    options[name.slice(2)] = value;
  }
  if (options.head === undefined || options.head === "") {
    throw new Error("--head <commit> is required (the commit to preview or deploy)");
  }
  return {
    base: options.base ?? "",
    head: options.head,
    stacksFile: options["stacks-file"] ?? STACKS_FILE,
  };
}

/**
 * Writes `name=value` lines for a step's outputs (single-line values only).
 * @param {string} file
 * @param {Record<string, string>} outputs
 */
function writeOutputs(file, outputs) {
  const lines = Object.entries(outputs).map(([name, value]) => `${name}=${value}\n`);
  fs.appendFileSync(file, lines.join(""));
}

/** @param {readonly string[]} argv */
function main(argv) {
  const cwd = process.cwd();
  const args = parseArgs(argv);
  const organization = process.env.PULUMI_ORGANIZATION ?? "";
  if (organization !== "" && !STACK_NAME.test(organization)) {
    throw new Error(
      `PULUMI_ORGANIZATION ${JSON.stringify(organization)} is not an organization name; ` +
        "leave the repository variable empty or set it to a name like acme",
    );
  }
  const managedStacks = parseStacksFile(
    fs.readFileSync(path.resolve(cwd, args.stacksFile), "utf8"),
    args.stacksFile,
  );
  const changed = changedFilesBetween(args.base, args.head, cwd);
  const result = affectedStacks({
    changedFiles: changed.files,
    managedStacks,
    existingStacks: existingStacksIn(cwd),
  });
  const annotate = process.env.GITHUB_ACTIONS === "true";
  for (const warning of [changed.warning, ...result.warnings]) {
    if (warning !== undefined) console.log(`${annotate ? "::warning::" : "warning: "}${warning}`);
  }
  for (const note of result.notes) console.log(note);
  const outputs = {
    stacks: JSON.stringify(result.stacks),
    matrix: JSON.stringify(stackMatrix(result.stacks, organization)),
    any: String(result.stacks.length > 0),
  };
  const outputFile = process.env.GITHUB_OUTPUT;
  if (outputFile !== undefined && outputFile !== "") writeOutputs(outputFile, outputs);
  else console.log(JSON.stringify(outputs));
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(`affected-stacks: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  }
}

module.exports = {
  PROGRAM_PATHS,
  STACK_FILE_GLOB,
  STACKS_FILE,
  affectedStacks,
  kubeconfigSecretName,
  parseStacksFile,
  stackMatrix,
};
