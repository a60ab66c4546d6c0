// EXPECT_BODY, matched off the main thread. A regular expression can backtrack for seconds or for
// ever (e.g. ^(a+)+$ on "aaaa…!"), and JavaScript cannot interrupt a match on its own thread: run
// there, it would block /healthz, events and every running test. So each match runs in a worker
// thread with a deadline, on a capped body; at the deadline the worker is terminated (V8 stops a
// match in progress) and the result is {timedOut}, which the smoke test records as `error` (the
// pattern could not be evaluated: no verdict on the revision).
//
// This file is both the main thread's API (matchBody) and the worker's code (run when loaded with
// workerData.expectBodyMatch), so the code ConfigMap ships it with the rest of the folder.
"use strict";

const { isMainThread, parentPort, Worker, workerData } = require("worker_threads");

/** The part of the body EXPECT_BODY sees: the smoke request reads no more. */
const EXPECT_BODY_MAX_BYTES = 64 * 1024;

/**
 * Whether `body` matches the regular expression (source, flags), within `timeoutMs`: resolves to
 * {matched: boolean}, {timedOut: true}, or {error: message} when the worker failed or could not
 * be started. Never rejects. createWorker: `new Worker` (tests inject one that throws).
 */
function matchBody(
  regex,
  body,
  timeoutMs,
  createWorker = (file, options) => new Worker(file, options),
) {
  return new Promise((resolve) => {
    let settled = false;
    let worker;
    try {
      worker = createWorker(__filename, {
        workerData: { expectBodyMatch: true, source: regex.source, flags: regex.flags, body },
        // A match needs little memory; a runaway one must not take the process's.
        resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
      });
    } catch (error) {
      // No thread to spare (EAGAIN), no memory: the tester could not judge, the app did nothing
      // wrong. Thrown here it would reject the promise and be taken for the app's failure.
      resolve({ error: `cannot start the match's worker thread: ${error.message}` });
      return;
    }
    const finish = (value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
      worker.terminate().catch(() => undefined);
    };
    const timer = setTimeout(() => finish({ timedOut: true }), timeoutMs);
    worker.once("message", (message) => finish({ matched: message.matched === true }));
    worker.once("error", (error) => finish({ error: error.message }));
    worker.once("exit", (code) => finish({ error: `the match's worker exited with code ${code}` }));
  });
}

if (!isMainThread && workerData && workerData.expectBodyMatch === true) {
  const { source, flags, body } = workerData;
  parentPort.postMessage({ matched: new RegExp(source, flags).test(body) });
}

module.exports = { EXPECT_BODY_MAX_BYTES, matchBody };
