// Small checks that every in-cluster program makes on its inputs and on what APIs answer.
//
// Node built-ins only, like everything under functions/: these files run as they are in a stock
// Node image, shipped beside the programs that require them (components/shared/inClusterCode.ts).
"use strict";

/** A wrong setting or input: the message names it, the bad value and what is valid. */
class InputError extends Error {}

function check(ok, message) {
  if (!ok) throw new InputError(message);
}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isString(value) {
  return typeof value === "string" && value.length > 0;
}

/** The object at `value.keys[0].keys[1]...`, or {} where any level is not an object. */
function objectAt(value, ...keys) {
  let current = value;
  for (const key of keys) current = isObject(current) ? current[key] : undefined;
  return isObject(current) ? current : {};
}

/**
 * An API base URL from a setting, without trailing slashes. Throws InputError naming the setting.
 * http:// is accepted for tests against local stand-ins.
 */
function baseUrl(name, value) {
  let protocol = "";
  try {
    protocol = new URL(value).protocol;
  } catch {
    // reported below
  }
  check(
    protocol === "https:" || protocol === "http:",
    `${name} must be an https:// (or, for tests, http://) URL, got ${JSON.stringify(value)}`,
  );
  return value.replace(/\/+$/, "");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const COMMIT_SHA = /^[0-9a-f]{40}$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_LABEL_LENGTH = 63;

module.exports = {
  InputError,
  check,
  isObject,
  isString,
  objectAt,
  baseUrl,
  sleep,
  COMMIT_SHA,
  DNS1123_LABEL,
  MAX_LABEL_LENGTH,
};
