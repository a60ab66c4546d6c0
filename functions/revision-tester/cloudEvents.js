// CloudEvents in, and what each asks of the tester.
//
// An ApiServerSource in Resource mode POSTs a CloudEvent for every Revision add, update and
// delete (type dev.knative.apiserver.resource.{add,update,delete}, subject
// /apis/serving.knative.dev/v1/namespaces/<ns>/revisions/<name>, data: the whole Revision as
// JSON). The event is a hint, never the truth: the tester reads the Revision from the Kubernetes
// API and tests only a revision that the API says is Ready and not yet tested or claimed. A copy
// in an event can only make the tester do less (skip an event that is obviously irrelevant),
// never more.
"use strict";

const {
  DNS1123_LABEL,
  isObject,
  isString,
  MAX_LABEL_LENGTH,
  objectAt,
} = require("../shared/checks");
const { revisionDecision } = require("./claim");

const EVENT_TYPES = Object.freeze({
  add: "dev.knative.apiserver.resource.add",
  update: "dev.knative.apiserver.resource.update",
  delete: "dev.knative.apiserver.resource.delete",
});

/**
 * A CloudEvent from an HTTP request, binary or structured content mode:
 * {event: {specversion, id, source, type, subject?, data}} or {error: {status, message}}.
 */
function parseCloudEvent(headers, body) {
  const contentType = String(headers["content-type"] ?? "")
    .split(";")[0]
    .trim()
    .toLowerCase();
  const fail = (status, message) => ({ error: { status, message } });
  const parseJson = (what) => {
    try {
      return { value: JSON.parse(body.toString("utf8")) };
    } catch (error) {
      return fail(400, `${what} is not valid JSON: ${error.message}`);
    }
  };

  let attributes;
  let data;
  if (contentType === "application/cloudevents+json") {
    const parsed = parseJson("the structured CloudEvent");
    if (parsed.error) return parsed;
    if (!isObject(parsed.value)) return fail(400, "a structured CloudEvent must be a JSON object");
    attributes = parsed.value;
    data = attributes.data;
    if (data === undefined && typeof attributes.data_base64 === "string") {
      try {
        data = JSON.parse(Buffer.from(attributes.data_base64, "base64").toString("utf8"));
      } catch (error) {
        return fail(400, `data_base64 is not base64-encoded JSON: ${error.message}`);
      }
    }
  } else if (contentType === "application/json") {
    attributes = {};
    for (const name of ["specversion", "id", "source", "type", "subject"]) {
      const value = headers[`ce-${name}`];
      if (typeof value === "string") attributes[name] = value;
    }
    if (body.length === 0) return fail(400, "the event has no data: expected a Revision as JSON");
    const parsed = parseJson("the event data");
    if (parsed.error) return parsed;
    data = parsed.value;
  } else {
    return fail(
      415,
      `Content-Type must be application/json (binary content mode, with ce-* headers) or ` +
        `application/cloudevents+json (structured content mode), got ` +
        `${JSON.stringify(headers["content-type"] ?? "")}`,
    );
  }

  const binary = contentType === "application/json";
  for (const name of ["specversion", "id", "source", "type"]) {
    if (!isString(attributes[name])) {
      return fail(
        400,
        binary
          ? `missing header ce-${name}: a binary-mode CloudEvent needs ce-specversion, ce-id, ` +
              `ce-source and ce-type`
          : `missing attribute "${name}": a CloudEvent needs specversion, id, source and type`,
      );
    }
  }
  if (attributes.specversion !== "1.0") {
    return fail(400, `specversion must be "1.0", got ${JSON.stringify(attributes.specversion)}`);
  }
  const event = {
    specversion: attributes.specversion,
    id: attributes.id,
    source: attributes.source,
    type: attributes.type,
    data,
  };
  if (isString(attributes.subject)) event.subject = attributes.subject;
  return { event };
}

/**
 * What an event asks for: {name} of a Revision to consider, {ignore: reason}, or
 * {invalid: message} for data that claims to be a Revision of ours but cannot be one.
 */
function eventTarget(event, config, nowMs) {
  if (event.type !== EVENT_TYPES.add && event.type !== EVENT_TYPES.update) {
    return { ignore: `event type ${event.type} is not a Revision add or update` };
  }
  const data = event.data;
  if (!isObject(data) || data.apiVersion !== "serving.knative.dev/v1" || data.kind !== "Revision") {
    return { ignore: "the event data is not a serving.knative.dev/v1 Revision" };
  }
  const metadata = objectAt(data, "metadata");
  if (metadata.namespace !== config.namespace) {
    return {
      ignore: `the Revision is in namespace ${JSON.stringify(metadata.namespace)}, not ${config.namespace}`,
    };
  }
  const name = metadata.name;
  if (typeof name !== "string" || name.length > MAX_LABEL_LENGTH || !DNS1123_LABEL.test(name)) {
    return {
      invalid: `data.metadata.name must be a Revision name (a DNS-1123 label), got ${JSON.stringify(name)}`,
    };
  }
  // The copy may be forged or stale; it is only trusted to skip work.
  const decision = revisionDecision(data, config, nowMs);
  if (decision.ignore !== undefined) return { name, ignore: `per the event: ${decision.ignore}` };
  return { name };
}

module.exports = { EVENT_TYPES, parseCloudEvent, eventTarget };
