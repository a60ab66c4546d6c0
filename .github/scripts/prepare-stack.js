#!/usr/bin/env node
// @ts-check
// Checks and prepares what a Pulumi step needs for one stack, so that a missing secret fails in
// one place with a message naming the secret, instead of deep inside `pulumi preview`:
//   - a backend: PULUMI_ACCESS_TOKEN (Pulumi Cloud) and/or PULUMI_BACKEND_URL (self-managed);
//   - PULUMI_CONFIG_PASSPHRASE when the stack file says the stack uses the passphrase provider;
//   - the cluster: the kubeconfig from the stack's repository secret, which must hold the
//     context that Pulumi.<stack>.yaml selects; it is written to a private file under
//     RUNNER_TEMP and exported as KUBECONFIG for the steps that follow;
//   - the Pulumi CLI version: the one toolchain/versions.json pins, the CLI the real tier builds
//     and tests with (the same release as @pulumi/pulumi).
// Runs after `npm ci`: it reads YAML with the project's `yaml` package.
"use strict";

const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

/**
 * @typedef {object} StackAccessInput
 * @property {string} stack short stack name (the file is Pulumi.<stack>.yaml)
 * @property {string} kubeconfigSecret name of the repository secret with the kubeconfig
 * @property {unknown} stackFile the parsed Pulumi.<stack>.yaml
 * @property {string} kubeconfig the kubeconfig secret's value ("" when not set)
 * @property {string} accessToken PULUMI_ACCESS_TOKEN ("" when not set)
 * @property {string} backendUrl PULUMI_BACKEND_URL ("" when not set)
 * @property {string} passphrase PULUMI_CONFIG_PASSPHRASE ("" when not set)
 *
 * @typedef {object} StackAccess
 * @property {string[]} problems what is missing or wrong, each naming what to set
 * @property {boolean} writeKubeconfig whether the kubeconfig secret is to be used
 * @property {string} summary one line on the backend and cluster, without any secret value
 */

/**
 * @param {unknown} value
 * @returns {Record<string, unknown>}
 */
function asObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? /** @type {Record<string, unknown>} */ (value)
    : {};
}

/**
 * The scheme of a backend URL, the only part safe to print (the rest may hold credentials).
 * @param {string} url
 */
function schemeOf(url) {
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return match === null ? "" : match[1].toLowerCase();
}

/**
 * Pure: what stands between this stack and a Pulumi run.
 * @param {StackAccessInput} input
 * @returns {StackAccess}
 */
function stackAccess(input) {
  const { stack, kubeconfigSecret } = input;
  const file = `Pulumi.${stack}.yaml`;
  const stackFile = asObject(input.stackFile);
  const config = asObject(stackFile.config);
  /** @type {string[]} */
  const problems = [];

  // Backend. An empty PULUMI_BACKEND_URL is ignored by the CLI (Pulumi Cloud then), so one
  // workflow serves both kinds of backend; only the combinations that cannot log in are refused.
  const scheme = schemeOf(input.backendUrl);
  let backend;
  if (input.backendUrl === "") {
    backend = "Pulumi Cloud";
    if (input.accessToken === "") {
      problems.push(
        "No Pulumi backend: set the repository secret PULUMI_ACCESS_TOKEN (Pulumi Cloud), or " +
          "PULUMI_BACKEND_URL for a self-managed backend (s3://…, azblob://…, gs://…, file://…)",
      );
    }
  } else if (scheme === "") {
    backend = "unknown";
    problems.push(
      "PULUMI_BACKEND_URL is not a URL: set it to a backend URL such as s3://bucket, " +
        "azblob://container, gs://bucket or https://api.pulumi.example.com",
    );
  } else if (scheme === "http" || scheme === "https") {
    backend = `self-hosted Pulumi Cloud (${scheme})`;
    if (input.accessToken === "") {
      problems.push(
        "PULUMI_BACKEND_URL is a Pulumi Cloud URL (http(s)://), which needs an access token: " +
          "set the repository secret PULUMI_ACCESS_TOKEN too",
      );
    }
  } else {
    backend = `self-managed (${scheme}://)`;
  }

  // Secrets provider. The passphrase provider records its salt in the stack file; an empty
  // PULUMI_CONFIG_PASSPHRASE would count as the passphrase "" and fail as a wrong one.
  if (typeof stackFile.encryptionsalt === "string" && input.passphrase === "") {
    problems.push(
      `${file} has an encryptionsalt (the passphrase secrets provider): set the repository ` +
        "secret PULUMI_CONFIG_PASSPHRASE to the stack's passphrase",
    );
  }

  // Cluster.
  const context = config["kubernetes:context"];
  const contextText = typeof context === "string" ? `context '${context}'` : "its current context";
  let cluster;
  let writeKubeconfig = false;
  if (config["canary-release:render"] !== undefined) {
    cluster = "none (render mode)";
  } else if (config["kubernetes:kubeconfig"] !== undefined) {
    // The stack passes its own kubeconfig to the provider, which then ignores KUBECONFIG.
    cluster =
      `kubernetes:kubeconfig from ${file}` +
      (input.kubeconfig === "" ? "" : ` (the secret ${kubeconfigSecret} is not used)`);
  } else if (input.kubeconfig === "") {
    cluster = "missing";
    problems.push(
      `The repository secret ${kubeconfigSecret} is not set: it must hold a kubeconfig for the ` +
        `cluster of stack ${stack}, with the ${contextText} (${file}, kubernetes:context)`,
    );
  } else {
    cluster = `${contextText} from ${kubeconfigSecret}`;
    writeKubeconfig = true;
    const problem = kubeconfigProblem(input.kubeconfig, context, kubeconfigSecret, file);
    if (problem !== undefined) problems.push(problem);
  }

  return {
    problems,
    writeKubeconfig,
    summary: `stack ${stack}: backend ${backend}; cluster ${cluster}`,
  };
}

/**
 * Why this kubeconfig cannot reach the stack's cluster, if it cannot.
 * @param {string} text
 * @param {unknown} context the stack's kubernetes:context
 * @param {string} secret
 * @param {string} file
 * @returns {string | undefined}
 */
function kubeconfigProblem(text, context, secret, file) {
  let parsed;
  try {
    parsed = YAML.parse(text);
  } catch {
    // The parser's message may quote the secret: do not pass it on.
    return `The repository secret ${secret} is not valid YAML or JSON: paste the whole kubeconfig file`;
  }
  const kubeconfig = asObject(parsed);
  const contexts = Array.isArray(kubeconfig.contexts) ? kubeconfig.contexts : [];
  const names = contexts
    .map((entry) => asObject(entry).name)
    .filter(/** @returns {name is string} */ (name) => typeof name === "string");
  if (names.length === 0) {
    return `The repository secret ${secret} holds no kubeconfig contexts: paste the whole kubeconfig file`;
  }
  const found = `it has ${names.map((name) => `'${name}'`).join(", ")}`;
  if (typeof context === "string") {
    if (!names.includes(context)) {
      return (
        `The kubeconfig in ${secret} has no context '${context}', which ${file} selects ` +
        `(kubernetes:context); ${found}. Rename the context in the kubeconfig, or change ` +
        `kubernetes:context`
      );
    }
    return undefined;
  }
  const current = kubeconfig["current-context"];
  if (typeof current !== "string" || !names.includes(current)) {
    return (
      `${file} sets no kubernetes:context, so the kubeconfig's current-context is used, but the ` +
      `kubeconfig in ${secret} has none that exists (${found}): set kubernetes:context in ` +
      `${file} or current-context in the kubeconfig`
    );
  }
  return undefined;
}

/**
 * The Pulumi CLI version toolchain/versions.json pins, as an exact version.
 * @param {unknown} versions the parsed toolchain/versions.json
 * @returns {string}
 */
function pulumiCliVersion(versions) {
  const version = asObject(versions).pulumi;
  if (typeof version !== "string" || !/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(
      `toolchain/versions.json pins the Pulumi CLI ("pulumi") as ${JSON.stringify(version)}; ` +
        "CI needs an exact version such as 3.248.0",
    );
  }
  return version;
}

/**
 * Appends `name=value` lines (single-line values only) to a GITHUB_ENV or GITHUB_OUTPUT file.
 * @param {string} file
 * @param {Record<string, string>} values
 */
function appendVariables(file, values) {
  for (const [name, value] of Object.entries(values)) {
    if (/[\r\n]/.test(value)) throw new Error(`${name} must be a single line`);
  }
  fs.appendFileSync(
    file,
    Object.entries(values)
      .map(([name, value]) => `${name}=${value}\n`)
      .join(""),
  );
}

/** @param {string} name */
function requiredEnv(name) {
  const value = process.env[name];
  if (value === undefined || value === "")
    throw new Error(`environment variable ${name} is not set`);
  return value;
}

function main() {
  const cwd = process.cwd();
  const stack = requiredEnv("STACK");
  const stackFilePath = path.join(cwd, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(stackFilePath)) {
    throw new Error(`Pulumi.${stack}.yaml does not exist at this commit`);
  }
  const kubeconfig = process.env.KUBECONFIG_CONTENT ?? "";
  const access = stackAccess({
    stack,
    kubeconfigSecret: requiredEnv("KUBECONFIG_SECRET"),
    stackFile: YAML.parse(fs.readFileSync(stackFilePath, "utf8")),
    kubeconfig,
    accessToken: process.env.PULUMI_ACCESS_TOKEN ?? "",
    backendUrl: process.env.PULUMI_BACKEND_URL ?? "",
    passphrase: process.env.PULUMI_CONFIG_PASSPHRASE ?? "",
  });
  const annotate = process.env.GITHUB_ACTIONS === "true";
  if (access.problems.length > 0) {
    for (const problem of access.problems) {
      console.error(`${annotate ? "::error::" : "error: "}${problem}`);
    }
    console.error(
      'See docs/operations.md, "Reviewing a step", for the repository secrets CI needs.',
    );
    process.exitCode = 1;
    return;
  }
  const version = pulumiCliVersion(
    JSON.parse(fs.readFileSync(path.join(cwd, "toolchain", "versions.json"), "utf8")),
  );
  console.log(`${access.summary}; Pulumi CLI ${version}`);

  if (access.writeKubeconfig) {
    const dir = requiredEnv("RUNNER_TEMP");
    const file = path.join(dir, `kubeconfig-${stack}`);
    // 0600 from the start: the file holds cluster credentials.
    fs.writeFileSync(file, kubeconfig, { mode: 0o600 });
    fs.chmodSync(file, 0o600);
    appendVariables(requiredEnv("GITHUB_ENV"), { KUBECONFIG: file });
  }
  const outputFile = process.env.GITHUB_OUTPUT;
  if (outputFile !== undefined && outputFile !== "") {
    appendVariables(outputFile, { "pulumi-version": version });
  }
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error(`prepare-stack: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  }
}

module.exports = { pulumiCliVersion, stackAccess };
