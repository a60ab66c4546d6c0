#!/usr/bin/env node
// The `canary` bin. It runs the TypeScript CLI from source through ts-node in transpile-only
// mode: no build step, so it works right after `npm ci`, or `npm ci --omit=dev` (ts-node and
// typescript are dependencies for this; `npm test` type-checks the same code).
"use strict";
const path = require("path");

require("ts-node").register({
  transpileOnly: true,
  project: path.join(__dirname, "..", "tsconfig.json"),
});
require("./cli")
  .runFromProcess()
  .catch((error) => {
    process.stderr.write(`error: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
