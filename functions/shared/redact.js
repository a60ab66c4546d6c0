// Redaction of secrets (tokens) from text that may be logged, recorded or answered. It works on
// the raw strings, before anything escapes them (JSON.stringify writes `"` as `\"`, so a token
// with a quote or backslash no longer appears as itself in the escaped line) and before anything
// cuts them (a cut through a token would leave a prefix that no whole-token match finds).
"use strict";

const REDACTED = "[redacted]";
/** A cut end that matches this many characters of a secret's start is treated as that secret. */
const MIN_PREFIX_AT_CUT = 4;

/** Each secret as it appears raw and as JSON escapes it (the same when it has nothing to escape). */
function forms(secrets) {
  const out = [];
  for (const secret of secrets) {
    if (typeof secret !== "string" || secret === "") continue;
    out.push(secret);
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) out.push(escaped);
  }
  // Longest first, so a secret that contains another is replaced whole.
  return out.sort((a, b) => b.length - a.length);
}

/** `text` with every occurrence of every secret (raw or JSON-escaped) replaced. */
function redactText(text, secrets) {
  let out = String(text);
  for (const form of forms(secrets)) out = out.split(form).join(REDACTED);
  return out;
}

/**
 * `text` redacted, then cut to `max` characters; a cut end that is the start of a secret
 * (MIN_PREFIX_AT_CUT characters or more) is redacted as well. Use it wherever text is shortened.
 */
function redactAndCut(text, secrets, max) {
  const cut = redactText(text, secrets).slice(0, max);
  return redactCutEnd(cut, secrets);
}

/** `text` whose end may be a cut through a secret: that partial secret is replaced. */
function redactCutEnd(text, secrets) {
  for (const form of forms(secrets)) {
    for (
      let length = Math.min(form.length - 1, text.length);
      length >= MIN_PREFIX_AT_CUT;
      length--
    ) {
      if (text.endsWith(form.slice(0, length))) return `${text.slice(0, -length)}${REDACTED}`;
    }
  }
  return text;
}

/** A copy of a JSON-like value with every string in it redacted (keys included). */
function redactValue(value, secrets) {
  if (typeof value === "string") return redactText(value, secrets);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets));
  if (typeof value === "object" && value !== null) {
    const out = {};
    for (const [key, item] of Object.entries(value)) {
      out[redactText(key, secrets)] = redactValue(item, secrets);
    }
    return out;
  }
  return value;
}

module.exports = { REDACTED, redactText, redactAndCut, redactCutEnd, redactValue };
