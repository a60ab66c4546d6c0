// The tester's log: one JSON object per line (errors on stderr, the rest on stdout), with every
// token it has used redacted.
"use strict";

const { redactAndCut, redactText, redactValue } = require("../shared/redact");
const { LOG_LEVELS } = require("./config");

/** How many tokens to remember: rotated ones accumulate, and the newest few are enough. */
const MAX_SECRETS = 16;

/** The tokens the tester has sent; the logger redacts them from every line. */
class Secrets {
  constructor() {
    this.values = new Set();
  }

  remember(token) {
    if (this.values.has(token)) return;
    this.values.add(token);
    if (this.values.size > MAX_SECRETS) this.values.delete(this.values.values().next().value);
  }

  /** `text` without any token, raw or JSON-escaped. */
  redact(text) {
    return redactText(text, this.values);
  }

  /** `text` redacted, then cut to `max` characters (a token's start at the cut is redacted). */
  cut(text, max) {
    return redactAndCut(text, this.values, max);
  }

  /** A JSON-like value with every string in it redacted. */
  redactValue(value) {
    return redactValue(value, this.values);
  }
}

/** log(level, msg, fields?): lines below `level` are dropped. */
function createLogger(level, secrets) {
  const threshold = LOG_LEVELS[level];
  return function log(lineLevel, msg, fields = {}) {
    if (LOG_LEVELS[lineLevel] < threshold) return;
    // Redacted before JSON.stringify escapes a token's quotes or backslashes: no message is built
    // from a token, but an API's echo could be. The escaped line is redacted again as a last
    // line of defence.
    const line = JSON.stringify(
      secrets.redactValue({ time: new Date().toISOString(), level: lineLevel, msg, ...fields }),
    );
    (lineLevel === "error" ? process.stderr : process.stdout).write(`${secrets.redact(line)}\n`);
  };
}

module.exports = { Secrets, createLogger };
