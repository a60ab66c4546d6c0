// The Kubernetes API as the in-cluster programs use it: the pod's service account (its token
// re-read for every request, its CA), JSON in and out, and the messages and conditions they
// report from its answers.
"use strict";

const fs = require("fs");
const { baseUrl, isObject, isString, objectAt } = require("./checks");
const { httpRequest, readTokenFile } = require("./http");
const { redactCutEnd, redactText, redactValue } = require("./redact");

/** Where the kubelet mounts the pod's service account token and the cluster's CA. */
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** RFC 7386: objects merge, null deletes; with metadata.resourceVersion, a conditional write. */
const MERGE_PATCH = "application/merge-patch+json";
/** Lists of whole objects can be large; an answer past this is cut (and then fails to parse). */
const MAX_API_RESPONSE_BYTES = 32 * 1024 * 1024;

/** The Kubernetes API could not be reached, did not answer in time, or its token is unreadable. */
class ApiUnavailable extends Error {}

/** The API server's address as client-go's in-cluster configuration finds it. */
function inClusterApiUrl(env) {
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!isString(host)) return "https://kubernetes.default.svc";
  const port = env.KUBERNETES_SERVICE_PORT || "443";
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * {url, tokenFile, caFile} from KUBERNETES_API_URL (default `defaultUrl`),
 * KUBERNETES_TOKEN_FILE and KUBERNETES_CA_FILE (default: the pod's service account). Blank
 * counts as unset. Throws InputError naming KUBERNETES_API_URL when it is not an http(s) URL.
 */
function kubernetesSettings(env, defaultUrl) {
  const text = (name) => {
    const value = env[name];
    return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
  };
  return {
    url: baseUrl("KUBERNETES_API_URL", text("KUBERNETES_API_URL") ?? defaultUrl),
    tokenFile: text("KUBERNETES_TOKEN_FILE") ?? `${SERVICE_ACCOUNT_DIR}/token`,
    caFile: text("KUBERNETES_CA_FILE") ?? `${SERVICE_ACCOUNT_DIR}/ca.crt`,
  };
}

/**
 * request(method, path, body?, contentType?) -> {status, body}: the body is sent as JSON (content
 * type application/json unless given, e.g. MERGE_PATCH) and the answer parsed as JSON (an error
 * status's body kept as text when it is not: a proxy's error page). Any HTTP status resolves; a
 * request that cannot be made or answered, or a 2xx answer that is not JSON, rejects with
 * ApiUnavailable.
 *
 * settings: kubernetesSettings(); options: {requestTimeoutMs, userAgent, onToken?(token)}, where
 * onToken lets a caller redact the token from its logs (it is never logged here).
 */
function kubernetesClient(settings, options) {
  const secure = settings.url.startsWith("https:");
  return async function request(method, path, body, contentType = "application/json") {
    let token;
    try {
      token = readTokenFile(settings.tokenFile, "KUBERNETES_TOKEN_FILE");
    } catch (error) {
      throw new ApiUnavailable(error.message);
    }
    if (options.onToken !== undefined) options.onToken(token);
    let ca;
    if (secure) {
      try {
        ca = fs.readFileSync(settings.caFile);
      } catch (error) {
        throw new ApiUnavailable(
          `cannot read KUBERNETES_CA_FILE ${settings.caFile}: ${error.code ?? error.message}`,
        );
      }
    }
    const headers = {
      Accept: "application/json",
      Authorization: `Bearer ${token}`,
      "User-Agent": options.userAgent,
    };
    if (body !== undefined) headers["Content-Type"] = contentType;
    let res;
    try {
      res = await httpRequest(`${settings.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        timeoutMs: options.requestTimeoutMs,
        maxBytes: MAX_API_RESPONSE_BYTES,
        ca,
      });
    } catch (error) {
      throw new ApiUnavailable(`${method} ${path}: ${error.message}`);
    }
    // An answer may echo the token (a proxy's error page, a webhook's message): it is removed
    // here, from the raw strings, before any caller escapes, cuts (apiError) or logs them. The
    // body may have been cut at MAX_API_RESPONSE_BYTES, through the token.
    const text = redactCutEnd(redactText(res.text, [token]), [token]);
    let parsed = text;
    try {
      parsed = text === "" ? undefined : redactValue(JSON.parse(res.text), [token]);
    } catch {
      // Not JSON (a proxy's error page): keep the text for the error message. A success that is
      // not JSON cannot be the API server's answer (it may not even say whether a write was
      // applied): a transient failure, never an answer to act on.
      if (res.status >= 200 && res.status < 300) {
        throw new ApiUnavailable(
          `${method} ${path}: HTTP ${res.status} with a body that is not JSON ` +
            `(${Buffer.byteLength(text)} bytes): not the API server's answer`,
        );
      }
    }
    return { status: res.status, body: parsed };
  };
}

/** The message for an unexpected answer, with the API server's own reason and message. */
function apiError(what, res) {
  const body = res.body;
  const detail = isObject(body)
    ? [body.reason, body.message].filter(isString).join(": ")
    : String(body ?? "").slice(0, 300);
  return `${what}: HTTP ${res.status}${detail ? ` ${detail}` : ""}`;
}

/** The Ready condition of a resource's status (Knative's and most controllers'), if any. */
function readyCondition(resource) {
  const conditions = objectAt(resource, "status").conditions;
  return Array.isArray(conditions)
    ? conditions.find((condition) => isObject(condition) && condition.type === "Ready")
    : undefined;
}

/** `Ready=False: Reason: message`, or "no Ready condition yet". */
function describeCondition(condition) {
  if (!condition) return "no Ready condition yet";
  return [`Ready=${condition.status}`, condition.reason, condition.message]
    .filter(isString)
    .join(": ");
}

module.exports = {
  SERVICE_ACCOUNT_DIR,
  MERGE_PATCH,
  ApiUnavailable,
  inClusterApiUrl,
  kubernetesSettings,
  kubernetesClient,
  apiError,
  readyCondition,
  describeCondition,
};
