// The tester's log: one JSON object per line (errors on stderr, the rest on stdout), with every
// token it has used redacted.
"use strict";

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

  redact(text) {
    let out = text;
    for (const secret of this.values) out = out.split(secret).join("[redacted]");
    return out;
  }
}

/** log(level, msg, fields?): lines below `level` are dropped. */
function createLogger(level, secrets) {
  const threshold = LOG_LEVELS[level];
  return function log(lineLevel, msg, fields = {}) {
    if (LOG_LEVELS[lineLevel] < threshold) return;
    const line = JSON.stringify({
      time: new Date().toISOString(),
      level: lineLevel,
      msg,
      ...fields,
    });
    // A last line of defence: no message is built from a token, but an API's echo could be.
    (lineLevel === "error" ? process.stderr : process.stdout).write(`${secrets.redact(line)}\n`);
  };
}

module.exports = { Secrets, createLogger };
