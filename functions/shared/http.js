// HTTP for the in-cluster programs: one request with a deadline and a cap on the answer, and the
// token files their requests carry.
"use strict";

const fs = require("fs");
const http = require("http");
const https = require("https");

/** What an answer may weigh unless the caller says otherwise: the rest is not read. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * One HTTP exchange: resolves to {status, text} (the body cut at maxBytes, default 1 MiB),
 * rejects on a network error or when the whole exchange takes longer than timeoutMs (then
 * error.code is "ETIMEDOUT"). options: {method = GET, headers, body (a string), timeoutMs,
 * maxBytes, ca (trusted CA certificates), agent (false: a fresh connection)}.
 */
function httpRequest(url, options) {
  const { method = "GET", headers = {}, body, timeoutMs, ca, agent } = options;
  const maxBytes = options.maxBytes ?? MAX_RESPONSE_BYTES;
  return new Promise((resolve, reject) => {
    let target;
    try {
      target = new URL(url);
    } catch {
      reject(new Error(`not a URL: ${JSON.stringify(url)}`));
      return;
    }
    const transport = target.protocol === "https:" ? https : http;
    const requestHeaders = { ...headers };
    const payload = body === undefined ? undefined : Buffer.from(body, "utf8");
    if (payload !== undefined) requestHeaders["Content-Length"] = String(payload.length);
    const requestOptions = { method, headers: requestHeaders };
    if (ca !== undefined) requestOptions.ca = ca;
    if (agent !== undefined) requestOptions.agent = agent;

    let settled = false;
    const finish = (error, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(value);
    };
    const req = transport.request(target, requestOptions, (res) => {
      const chunks = [];
      let size = 0;
      const done = () =>
        finish(undefined, {
          status: res.statusCode,
          text: Buffer.concat(chunks).toString("utf8"),
        });
      res.on("data", (chunk) => {
        if (settled) return; // cut at maxBytes already, or timed out
        chunks.push(chunk.subarray(0, maxBytes - size));
        size += chunk.length;
        if (size >= maxBytes) {
          done();
          req.destroy();
        }
      });
      res.on("end", done);
      res.on("error", (error) => finish(error));
      res.on("aborted", () => finish(new Error("the connection closed before the body ended")));
    });
    const timer = setTimeout(() => {
      const error = new Error(`no complete answer within ${timeoutMs} ms`);
      error.code = "ETIMEDOUT";
      finish(error);
      req.destroy();
    }, timeoutMs);
    req.on("error", (error) => finish(error));
    req.end(payload);
  });
}

/**
 * The token in `file`, trimmed; throws an Error naming the setting and the file (never the
 * token) when it cannot be read or is empty. Read it for every request: projected service
 * account tokens rotate, and a mounted Secret changes in place when it is updated.
 */
function readTokenFile(file, setting) {
  let token;
  try {
    token = fs.readFileSync(file, "utf8").trim();
  } catch (error) {
    throw new Error(`cannot read ${setting} ${file}: ${error.code ?? error.message}`);
  }
  if (token === "") throw new Error(`${setting} ${file} is empty`);
  return token;
}

module.exports = { MAX_RESPONSE_BYTES, httpRequest, readTokenFile };
