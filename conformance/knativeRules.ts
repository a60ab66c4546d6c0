// Knative Serving's admission rules for spec.traffic, applied offline to the rendered Routes and
// Services (conformance/upstreamRules.ts): the stack's traffic tables come from config that
// config.ts judged, and this says Knative's webhook would take them too.
//
// validateTraffic mirrors the admission rules of knative/serving
// pkg/apis/serving/v1/route_validation.go (validateTrafficList, TrafficTarget.Validate and its
// validateLatestRevision / validateRevisionAndConfiguration / validateTrafficPercentage /
// validateURL), targeting tag knative-v1.23.0 (read from the newest stored copy, commit 469e0b5;
// an older copy, 005b282, has the same traffic rules). The name rules come from
// k8s.io/apimachinery pkg/util/validation (IsDNS1035Label, IsQualifiedName, which is now
// content.IsLabelKey). Messages and paths are Knative's unless a comment says otherwise.
//
// Pure module: no Pulumi, no I/O.

import {
  DNS1035_LABEL,
  DNS1123_SUBDOMAIN,
  MAX_LABEL_LENGTH,
  MAX_SUBDOMAIN_LENGTH,
} from "../common/dnsNames";
import type { TrafficTarget } from "../common/traffic";

export interface TrafficError {
  path: string; // like "spec.traffic[1].percent"
  message: string;
}

/**
 * Every error Knative's webhook would report for this spec.traffic, all at once (empty = valid).
 *
 * owner "Service" means the list is a Service's spec.traffic: there the Configuration is implied
 * (Knative's WithDefaultConfigurationName context), so configurationName is disallowed and a
 * target with neither name means "this Service's Configuration".
 */
export function validateTraffic(
  traffic: readonly TrafficTarget[],
  owner: "Route" | "Service",
): TrafficError[] {
  // Admission runs defaulting first, and for a Service an empty list is defaulted to
  // [{latestRevision: true, percent: 100}] (RouteSpec.SetDefaults), so it is accepted. A Route
  // gets no such default and fails the sum rule below with "sum to 0".
  if (owner === "Service" && traffic.length === 0) {
    return [];
  }

  const errors: TrafficError[] = [];
  const firstIndexOfTag = new Map<string, number>();
  let sum = 0;

  traffic.forEach((target, i) => {
    const at = (field?: string): string =>
      field === undefined ? `spec.traffic[${i}]` : `spec.traffic[${i}].${field}`;
    const add = (path: string, message: string): void => {
      errors.push({ path, message });
    };

    // Order follows TrafficTarget.Validate, then the list checks, so output reads like Knative's.
    const latestError = latestRevisionError(target);
    if (latestError !== undefined) {
      add(at("latestRevision"), latestError);
    }

    const nameError = nameErrorFor(target, owner);
    if (nameError !== undefined) {
      add(at(nameError.field), nameError.message);
    }

    const percent = target.percent;
    if (percent !== undefined) {
      // Not a webhook rule: Percent is an int64 in Go, so the API server refuses to even decode a
      // fraction. Checked here so 12.5 gets a clear message instead of a decode failure.
      if (!Number.isInteger(percent)) {
        add(at("percent"), `must be an integer, got ${percent}`);
      }
      if (percent < 0 || percent > 100) {
        add(at("percent"), `expected 0 <= ${percent} <= 100`);
      }
      sum += percent;
    }

    if (isSet(target.url)) {
      // Knative reports this twice when the tag is also empty; the two merge into one message.
      add(at("url"), "must not set the field(s): url is reported in status, never set in spec");
    }

    const tag = target.tag;
    if (!isSet(tag)) {
      return;
    }
    const tagProblems = dns1035LabelErrors(tag);
    if (tagProblems.length > 0) {
      // Knative's path here is "spec.traffic.tag[i]" (ErrInvalidArrayValue puts the index on the
      // field); we use the conventional spec.traffic[i].tag like every other per-entry error.
      add(at("tag"), `invalid value "${tag}": not a DNS 1035 label: ${tagProblems.join("; ")}`);
    }
    const first = firstIndexOfTag.get(tag);
    if (first !== undefined) {
      // Knative rejects a repeated tag even when both entries point at the same target.
      add(at("tag"), `Multiple definitions for "${tag}" (also spec.traffic[${first}].tag)`);
    } else {
      firstIndexOfTag.set(tag, i);
    }
  });

  if (sum !== 100) {
    errors.push({ path: "spec.traffic", message: `Traffic targets sum to ${sum}, want 100` });
  }
  return errors;
}

/** k8s validation.IsQualifiedName: optional DNS-1123 subdomain prefix and "/", then a name. */
export function isQualifiedName(value: string): boolean {
  return qualifiedNameErrors(value).length === 0;
}

const DNS1035_LABEL_MAX = MAX_LABEL_LENGTH;
const DNS1123_SUBDOMAIN_MAX = MAX_SUBDOMAIN_LENGTH;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const QUALIFIED_NAME_MAX = 63;

const DNS1035_MESSAGE =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an " +
  "alphabetic character, and end with an alphanumeric character (e.g. 'my-name' or 'abc-123')";
const DNS1123_SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or " +
  "'.', and must start and end with an alphanumeric character (e.g. 'example.com')";
const QUALIFIED_NAME_MESSAGE =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " +
  "alphanumeric character (e.g. 'MyName' or 'my.name' or '123-abc')";

/** Why value is not a DNS-1035 label, in apimachinery's words (empty when it is one). */
export function dns1035LabelErrors(value: string): string[] {
  const problems: string[] = [];
  if (value.length > DNS1035_LABEL_MAX) {
    problems.push(`must be no more than ${DNS1035_LABEL_MAX} characters`);
  }
  if (!DNS1035_LABEL.test(value)) {
    problems.push(DNS1035_MESSAGE);
  }
  return problems;
}

/** Why value is not a Kubernetes qualified name, in apimachinery's words (empty when it is one). */
export function qualifiedNameErrors(value: string): string[] {
  const problems: string[] = [];
  const parts = value.split("/");
  let name: string;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix.length === 0) {
      problems.push("prefix part must be non-empty");
    } else {
      if (prefix.length > DNS1123_SUBDOMAIN_MAX) {
        problems.push(`prefix part must be no more than ${DNS1123_SUBDOMAIN_MAX} characters`);
      }
      if (!DNS1123_SUBDOMAIN.test(prefix)) {
        problems.push(`prefix part ${DNS1123_SUBDOMAIN_MESSAGE}`);
      }
    }
  } else {
    return [
      `a qualified name ${QUALIFIED_NAME_MESSAGE} with an optional DNS subdomain prefix and '/' ` +
        "(e.g. 'example.com/MyName')",
    ];
  }

  if (name.length === 0) {
    problems.push("name part must be non-empty");
  } else if (name.length > QUALIFIED_NAME_MAX) {
    problems.push(`name part must be no more than ${QUALIFIED_NAME_MAX} characters`);
  }
  if (!QUALIFIED_NAME.test(name)) {
    problems.push(`name part ${QUALIFIED_NAME_MESSAGE}`);
  }
  return problems;
}

// Knative (Go) cannot tell "" from absent, so an empty string counts as unset everywhere.
function isSet(value: string | undefined): value is string {
  return typeof value === "string" && value !== "";
}

// validateLatestRevision: latestRevision, when given, must agree with whether a revision is pinned.
function latestRevisionError(target: TrafficTarget): string | undefined {
  const latest = target.latestRevision;
  if (latest === undefined) {
    return undefined;
  }
  const pinned = isSet(target.revisionName);
  if (pinned !== latest) {
    return undefined;
  }
  const message = `may not set revisionName "${target.revisionName ?? ""}" when latestRevision is ${latest}`;
  // Knative's wording is puzzling for the false case, so say what is actually missing.
  return latest ? message : `${message} (latestRevision: false needs a revisionName to pin)`;
}

// validateRevisionAndConfiguration. Like Knative's switch, it reports at most one problem per
// target: e.g. with both names set, neither name is checked for syntax until one is removed.
function nameErrorFor(
  target: TrafficTarget,
  owner: "Route" | "Service",
): { field?: string; message: string } | undefined {
  const revision = target.revisionName;
  const configuration = target.configurationName;

  if (owner === "Service" && isSet(configuration)) {
    return {
      field: "configurationName",
      message:
        "must not set the field(s): a Service's traffic always targets its own Configuration; " +
        "use revisionName or latestRevision: true",
    };
  }
  if (isSet(revision) && isSet(configuration)) {
    // Knative lists both fields as paths; with one path per error we point at the entry itself.
    return { message: "expected exactly one, got both: revisionName and configurationName" };
  }
  if (isSet(revision)) {
    return invalidKeyName(revision, "revisionName");
  }
  if (isSet(configuration)) {
    return invalidKeyName(configuration, "configurationName");
  }
  if (owner === "Service") {
    return undefined; // the Service's own Configuration is implied
  }
  return { message: "expected exactly one, got neither: set revisionName or configurationName" };
}

function invalidKeyName(
  value: string,
  field: string,
): { field: string; message: string } | undefined {
  const problems = qualifiedNameErrors(value);
  if (problems.length === 0) {
    return undefined;
  }
  return { field, message: `invalid key name "${value}": ${problems.join("; ")}` };
}
