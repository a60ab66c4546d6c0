// JSON objects and Kubernetes manifests as the project handles them: the one guard that tells
// an object from an array or null, and the one shape of a manifest the builders return, the
// components register and the conformance checks read.

/** A JSON object, its values still to be checked. */
export type JsonObject = Record<string, unknown>;

/** An object that is not an array nor null: JSON's `{…}`. */
export function isRecord(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Any Kubernetes object as sent to the API server (JSON values only, no `undefined`). */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata?: Record<string, unknown>;
  [field: string]: unknown;
}
