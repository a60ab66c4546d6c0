#!/usr/bin/env node
// A stand-in for the Pulumi CLI, for the commands the Automation API runs on behalf of the canary
// library: enough to check the arguments it passes and how it reads the answers, with no real
// CLI, backend or cluster. State lives in the JSON file $FAKE_PULUMI_STATE; config goes to
// Pulumi.<stack>.yaml in the working directory, as the real CLI writes it.
//
// State: { stacks: { <name>: { outputs, version, deployments: canaryPercent of each update } },
//          lockedUps?: number (the next ups fail with a 409 conflict),
//          failUpAtPercent?: string (an up with that canaryPercent fails),
//          upDelayMs?: number }
// Each call's arguments are appended as a JSON line to $FAKE_PULUMI_STATE.calls (appends do not
// race, and the Automation API runs some commands concurrently).
"use strict";
const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

const statePath = process.env.FAKE_PULUMI_STATE;
const state = JSON.parse(fs.readFileSync(statePath, "utf8"));
const args = process.argv.slice(2);
fs.appendFileSync(`${statePath}.calls`, JSON.stringify(args) + "\n");
/** Atomically: concurrent readers never see a half-written file. */
const save = () => {
  fs.writeFileSync(`${statePath}.${process.pid}`, JSON.stringify(state, null, 2));
  fs.renameSync(`${statePath}.${process.pid}`, statePath);
};

const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const fail = (message) => {
  process.stderr.write(`error: ${message}\n`);
  process.exit(255);
};
const stackName = option("--stack");
const stackFile = () => path.join(process.cwd(), `Pulumi.${stackName}.yaml`);
const readDocument = () =>
  fs.existsSync(stackFile())
    ? YAML.parseDocument(fs.readFileSync(stackFile(), "utf8"))
    : new YAML.Document({ config: {} });
const configOf = () => {
  const config = readDocument().toJS().config ?? {};
  return Object.fromEntries(
    Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
};

const [command, sub] = args;
if (command === "version") {
  process.stdout.write("v3.265.0\n");
} else if (command === "stack" && sub === "select") {
  if (!(stackName in state.stacks)) fail(`no stack named '${stackName}' found`);
} else if (
  command === "config" &&
  args.includes("--json") &&
  (sub === undefined || sub.startsWith("-"))
) {
  // `pulumi config --show-secrets --json`: every key, as {value, secret}.
  const config = configOf();
  const all = Object.fromEntries(
    Object.entries(config).map(([key, value]) => [key, { value, secret: false }]),
  );
  process.stdout.write(JSON.stringify(all) + "\n");
} else if (command === "config" && sub === "get") {
  const key = args[2];
  const config = configOf();
  if (!(key in config)) fail(`configuration key '${key}' not found for stack '${stackName}'`);
  process.stdout.write(JSON.stringify({ value: config[key], secret: false }) + "\n");
} else if (command === "config" && sub === "set") {
  const key = args[2];
  const value = args[args.indexOf("--") + 1];
  const document = readDocument();
  const node = document.createNode(value);
  if (/^(\d+|true|false)$/.test(value)) node.type = "QUOTE_DOUBLE";
  document.setIn(["config", key], node);
  fs.writeFileSync(stackFile(), document.toString());
} else if (command === "config" && sub === "rm") {
  const document = readDocument();
  document.deleteIn(["config", args[2]]);
  fs.writeFileSync(stackFile(), document.toString());
} else if (command === "stack" && sub === "output") {
  process.stdout.write(JSON.stringify(state.stacks[stackName].outputs ?? {}) + "\n");
} else if (command === "up") {
  if ((state.lockedUps ?? 0) > 0) {
    state.lockedUps -= 1;
    save();
    fail("[409] Conflict: Another update is currently in progress.");
  }
  // The backend's own update lock, as Pulumi's: an update while another one runs gets a 409
  // (mkdir is atomic). It covers the update only, not the config written before it.
  const updating = `${statePath}.${stackName}.updating`;
  try {
    fs.mkdirSync(updating);
  } catch {
    fail("[409] Conflict: Another update is currently in progress.");
  }
  const unlock = () => fs.rmSync(updating, { recursive: true, force: true });
  // The program reads the stack file when the update starts.
  const config = configOf();
  const percent = config["canary-release:canaryPercent"] ?? "0";
  process.stdout.write(`Updating (${stackName}):\n`);
  if (percent === state.failAtPercent) {
    process.stdout.write(`    error: Route hello: canaryPercent ${percent} refused by the fake\n`);
    unlock();
    fail("update failed");
  }
  const finish = () => {
    // Read again: other commands may have saved the state while this update ran.
    Object.assign(state, JSON.parse(fs.readFileSync(statePath, "utf8")));
    const stack = state.stacks[stackName];
    stack.version = (stack.version ?? 0) + 1;
    stack.message = option("--message");
    stack.outputs = {
      stableRevision: config["canary-release:stableRevision"] ?? null,
      candidateRevision: config["canary-release:candidateRevision"] ?? null,
      canaryPercent: Number(percent),
    };
    stack.deployments = [...(stack.deployments ?? []), Number(percent)];
    process.stdout.write("Resources:\n    ~ 1 updated\n    9 unchanged\n");
    save();
    unlock();
  };
  if (state.upDelayMs) setTimeout(finish, state.upDelayMs);
  else finish();
} else if (command === "stack" && sub === "history") {
  const stack = state.stacks[stackName];
  const now = new Date().toISOString();
  process.stdout.write(
    JSON.stringify([
      {
        kind: "update",
        startTime: now,
        endTime: now,
        message: stack.message ?? "",
        environment: {},
        config: {},
        result: "succeeded",
        version: stack.version ?? 0,
        resourceChanges: { same: 9, update: 1 },
      },
    ]) + "\n",
  );
} else {
  fail(`the fake pulumi does not know \`pulumi ${args.join(" ")}\``);
}
