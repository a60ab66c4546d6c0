// Validates rendered custom resources against the openAPIV3Schema of their CRDs, the way the
// Kubernetes API server reads those schemas, with one deliberate difference: fields the schema
// does not declare are REPORTED instead of pruned. The API server drops them silently, so a
// typo'd field (`percnt` for `percent`) would vanish in the cluster and nobody would notice.
//
// ajv does the JSON-schema work. Each CRD version's schema is first rewritten into plain JSON
// schema (see `convertNode`), because ajv knows nothing of the Kubernetes extensions
// (x-kubernetes-*), of OpenAPI 3.0's `nullable`, or of the implicit ObjectMeta of `metadata`.
import * as fs from "fs";
import * as path from "path";
import Ajv, { AnySchema, ErrorObject, SchemaValidateFunction, ValidateFunction } from "ajv";
import { parseAllDocuments } from "yaml";
import { isRecord, type Manifest } from "../common/json";

export type { Manifest };

/**
 * One problem in a manifest. `path` is dotted, as people read it: `spec.traffic[0]`,
 * `metadata.labels["app.kubernetes.io/name"]`; "" is the document root. For unknown and
 * missing fields the path is the object that holds them and the message names the field.
 */
export interface SchemaViolation {
  path: string;
  message: string;
}

type JsonObject = Record<string, unknown>;

/** One version of one CRD, its schema already converted for ajv. */
interface CrdVersion {
  name: string;
  served: boolean;
  schema: JsonObject;
  /** What the converted schema cannot check (CEL rules, unsupported formats or patterns). */
  unenforced: string[];
}

interface CrdDefinition {
  /** metadata.name, e.g. routes.serving.knative.dev */
  name: string;
  group: string;
  kind: string;
  source: string;
  versions: CrdVersion[];
}

// The custom ajv keyword that checks x-kubernetes-list-type: map (no two entries with the same
// keys). Its name cannot clash with a real schema keyword: we write it, CRDs never do.
const LIST_MAP_KEYS = "x-canary-list-map-keys";

interface ListMapKeys {
  keys: string[];
  /** Defaults of the key fields: the API server applies them before comparing entries. */
  defaults: JsonObject;
}

const DNS1123_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
const DNS1123_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
// Label and annotation keys: an optional DNS-subdomain prefix and "/", then a name of at most
// 63 characters. Annotation keys are checked lower-cased by Kubernetes, so they allow capitals.
const LABEL_KEY =
  "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?" +
  "[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
const ANNOTATION_KEY =
  "^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*/)?" +
  "[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
const LABEL_VALUE = "^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$";

// A raw regex in an error message helps nobody; these say what the pattern means.
const PATTERN_NAMES = new Map<string, string>([
  [DNS1123_SUBDOMAIN, "a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.')"],
  [DNS1123_LABEL, "a lowercase RFC 1123 label (a-z, 0-9 and '-')"],
  [LABEL_KEY, "a qualified name ([prefix/]name, name at most 63 characters)"],
  [ANNOTATION_KEY, "a qualified name ([prefix/]name, name at most 63 characters)"],
  [LABEL_VALUE, "a label value (at most 63 of A-Z, a-z, 0-9, '-', '_', '.', alphanumeric at ends)"],
]);

const TIMESTAMP: JsonObject = { type: ["string", "null"], format: "date-time" };

/**
 * Kubernetes ObjectMeta as a client may send it. CRD schemas leave `metadata` as a bare
 * `type: object` because the API server validates it itself; we must do the same here, or a
 * closed empty object would reject every name and label.
 */
const OBJECT_META: JsonObject = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 253, pattern: DNS1123_SUBDOMAIN },
    generateName: { type: "string", maxLength: 253 },
    namespace: { type: "string", maxLength: 63, pattern: DNS1123_LABEL },
    labels: {
      type: "object",
      propertyNames: { maxLength: 317, pattern: LABEL_KEY },
      additionalProperties: { type: "string", maxLength: 63, pattern: LABEL_VALUE },
    },
    annotations: {
      type: "object",
      propertyNames: { maxLength: 317, pattern: ANNOTATION_KEY },
      additionalProperties: { type: "string" },
    },
    finalizers: { type: "array", items: { type: "string" } },
    ownerReferences: {
      type: "array",
      items: {
        type: "object",
        required: ["apiVersion", "kind", "name", "uid"],
        properties: {
          apiVersion: { type: "string" },
          kind: { type: "string" },
          name: { type: "string" },
          uid: { type: "string" },
          controller: { type: "boolean" },
          blockOwnerDeletion: { type: "boolean" },
        },
        additionalProperties: false,
      },
    },
    uid: { type: "string" },
    resourceVersion: { type: "string" },
    selfLink: { type: "string" },
    generation: { type: "integer" },
    // `kubectl create --dry-run -o yaml` writes `creationTimestamp: null`.
    creationTimestamp: TIMESTAMP,
    deletionTimestamp: TIMESTAMP,
    deletionGracePeriodSeconds: { type: "integer" },
    managedFields: { type: "array", items: { type: "object" } },
  },
  additionalProperties: false,
};

// Keywords whose meaning is the same in OpenAPI 3.0 and in ajv's JSON schema: copied as is.
const PLAIN_KEYWORDS = [
  "enum",
  "minimum",
  "maximum",
  "multipleOf",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "uniqueItems",
  "minProperties",
  "maxProperties",
  "required",
];

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

// The formats the CRDs use, registered by hand so ajv-formats is not needed. int32 overflow
// is worth a check (the controller's Go struct could not hold the value); int64, float and
// double are documentation only for JavaScript numbers. Any other format is dropped and noted.
function addFormats(ajv: Ajv): void {
  ajv.addFormat("int32", {
    type: "number",
    validate: (n: number) => n >= -2147483648 && n <= 2147483647,
  });
  ajv.addFormat("int64", { type: "number", validate: () => true });
  ajv.addFormat("float", { type: "number", validate: () => true });
  ajv.addFormat("double", { type: "number", validate: () => true });
  ajv.addFormat("date-time", RFC3339);
  ajv.addFormat("byte", BASE64);
}
const KNOWN_FORMATS = new Set(["int32", "int64", "float", "double", "date-time", "byte"]);

interface ConvertContext {
  celRules: number;
  notes: Set<string>;
}

/** The root is an object with apiVersion, kind and ObjectMeta whatever its schema says. */
type Position = "root" | "field";

/**
 * Rewrites one node of a CRD schema into JSON schema for ajv.
 *
 * `structural` is false inside anyOf/allOf/oneOf/not: in a structural schema those branches
 * only add value checks to the node's shape, so closing objects there would reject fields the
 * node itself declares.
 */
function convertNode(
  input: unknown,
  ctx: ConvertContext,
  structural: boolean,
  position: Position = "field",
): JsonObject {
  // A node with no schema accepts anything, as in Kubernetes.
  if (!isRecord(input)) return {};
  const out: JsonObject = {};
  const preserveUnknown = input["x-kubernetes-preserve-unknown-fields"] === true;
  const intOrString = input["x-kubernetes-int-or-string"] === true;
  const embedded = input["x-kubernetes-embedded-resource"] === true;

  for (const keyword of PLAIN_KEYWORDS) {
    if (keyword in input) out[keyword] = input[keyword];
  }
  // OpenAPI 3.0 (draft 4) exclusiveMinimum/Maximum are booleans that modify minimum/maximum;
  // ajv follows draft 7, where they are the bound itself.
  for (const [exclusive, bound] of [
    ["exclusiveMinimum", "minimum"],
    ["exclusiveMaximum", "maximum"],
  ]) {
    if (input[exclusive] === true && typeof input[bound] === "number") {
      out[exclusive] = input[bound];
      delete out[bound];
    }
  }

  if (intOrString) {
    // One type list instead of the usual anyOf: ajv then reports a single error.
    out.type = ["integer", "string"];
  } else if (typeof input.type === "string") {
    out.type = input.type;
  }
  if (position === "root" || embedded) out.type = "object";
  if (input.nullable === true) {
    if (typeof out.type === "string") out.type = [out.type, "null"];
    else if (Array.isArray(out.type)) out.type = [...out.type, "null"];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  }

  if (typeof input.format === "string") {
    if (KNOWN_FORMATS.has(input.format)) out.format = input.format;
    else ctx.notes.add(`format "${input.format}" is not checked`);
  }
  if (typeof input.pattern === "string") {
    // Kubernetes uses Go (RE2) regexes; one JavaScript cannot compile is dropped, not fatal.
    try {
      new RegExp(input.pattern, "u");
      out.pattern = input.pattern;
    } catch {
      ctx.notes.add(`pattern ${JSON.stringify(input.pattern)} is not checked (not a JS regex)`);
    }
  }
  if (Array.isArray(input["x-kubernetes-validations"])) {
    ctx.celRules += input["x-kubernetes-validations"].length;
  }

  const listType = input["x-kubernetes-list-type"];
  if (listType === "set") out.uniqueItems = true;
  const mapKeys = input["x-kubernetes-list-map-keys"];
  if (listType === "map" && Array.isArray(mapKeys) && mapKeys.length > 0) {
    const itemProperties = isRecord(input.items) ? input.items.properties : undefined;
    const defaults: JsonObject = {};
    for (const key of mapKeys) {
      const field = isRecord(itemProperties) ? itemProperties[String(key)] : undefined;
      if (isRecord(field) && field.default !== undefined) defaults[String(key)] = field.default;
    }
    const keyword: ListMapKeys = { keys: mapKeys.map(String), defaults };
    out[LIST_MAP_KEYS] = keyword;
  }

  if (isRecord(input.items)) out.items = convertNode(input.items, ctx, structural);

  const properties: JsonObject = {};
  if (isRecord(input.properties)) {
    for (const [name, sub] of Object.entries(input.properties)) {
      properties[name] = convertNode(sub, ctx, structural);
    }
  }
  if (structural && (position === "root" || embedded)) {
    properties.apiVersion ??= { type: "string" };
    properties.kind ??= { type: "string" };
    const declaredMeta = isRecord(input.properties) ? input.properties.metadata : undefined;
    properties.metadata =
      position === "root"
        ? rootMetadataSchema(declaredMeta, ctx)
        : embeddedMetadataSchema(declaredMeta, ctx);
  }
  if (Object.keys(properties).length > 0) out.properties = properties;

  if (isRecord(input.additionalProperties)) {
    // A map: its values are validated, its keys are free.
    out.additionalProperties = convertNode(input.additionalProperties, ctx, structural);
  } else if (typeof input.additionalProperties === "boolean") {
    out.additionalProperties = input.additionalProperties;
  } else if (
    structural &&
    !preserveUnknown &&
    (input.type === "object" || position === "root" || embedded || isRecord(input.properties))
  ) {
    // The API server would prune undeclared fields here: report them instead.
    out.additionalProperties = false;
  }

  if (structural && embedded) {
    // Kubernetes requires apiVersion and kind on an embedded resource.
    const required = Array.isArray(out.required) ? out.required.map(String) : [];
    out.required = [...new Set([...required, "apiVersion", "kind"])];
  }

  for (const combinator of ["anyOf", "allOf", "oneOf"]) {
    const branches = input[combinator];
    if (!Array.isArray(branches)) continue;
    if (combinator === "anyOf" && intOrString && isIntOrStringAnyOf(branches)) continue;
    out[combinator] = branches.map((branch) => convertNode(branch, ctx, false));
  }
  if (isRecord(input.not)) out.not = convertNode(input.not, ctx, false);
  return out;
}

function isIntOrStringAnyOf(branches: unknown[]): boolean {
  return branches.every(
    (b) =>
      isRecord(b) && Object.keys(b).length === 1 && (b.type === "integer" || b.type === "string"),
  );
}

/**
 * The root `metadata` is ObjectMeta whatever the CRD says: Kubernetes lets a CRD only narrow
 * `name` and `generateName` there, so those constraints are added on top.
 */
function rootMetadataSchema(declared: unknown, ctx: ConvertContext): JsonObject {
  if (!isRecord(declared) || !isRecord(declared.properties)) return OBJECT_META;
  const narrowed: JsonObject = {};
  for (const field of ["name", "generateName"]) {
    const sub = declared.properties[field];
    if (sub !== undefined) narrowed[field] = convertNode(sub, ctx, false);
  }
  if (Object.keys(narrowed).length === 0) return OBJECT_META;
  return { allOf: [OBJECT_META, { properties: narrowed }] };
}

/** An embedded resource's metadata: as declared if the CRD spells it out, else ObjectMeta. */
function embeddedMetadataSchema(declared: unknown, ctx: ConvertContext): JsonObject {
  if (isRecord(declared) && isRecord(declared.properties)) return convertNode(declared, ctx, true);
  return OBJECT_META;
}

/** Kubernetes x-kubernetes-list-type: map — no two entries may share their key fields. */
const checkListMapKeys: SchemaValidateFunction = function (schema, data, _parent, dataCxt) {
  const { keys, defaults } = schema as ListMapKeys;
  const errors: Partial<ErrorObject>[] = [];
  const seen = new Map<string, number>();
  (data as unknown[]).forEach((item, index) => {
    if (!isRecord(item)) return;
    const id = JSON.stringify(keys.map((key) => item[key] ?? defaults[key] ?? null));
    const first = seen.get(id);
    if (first === undefined) {
      seen.set(id, index);
      return;
    }
    errors.push({
      keyword: LIST_MAP_KEYS,
      instancePath: `${dataCxt?.instancePath ?? ""}/${index}`,
      params: { first, keys },
      message: `duplicate entry: same ${keys.join(", ")} as [${first}]`,
    });
  });
  checkListMapKeys.errors = errors;
  return errors.length === 0;
};

function newAjv(): Ajv {
  // strict: false because the converted schemas still carry keywords ajv's strict mode frowns
  // on in valid OpenAPI (`required` without matching `properties`, untyped nodes).
  // optimize: false halves compile time (the Tekton schemas are large), and validation is
  // no slower: a test run compiles each kind once but validates only dozens of resources.
  const ajv = new Ajv({ allErrors: true, strict: false, code: { optimize: false } });
  addFormats(ajv);
  ajv.addKeyword({
    keyword: LIST_MAP_KEYS,
    type: "array",
    schemaType: "object",
    errors: true,
    validate: checkListMapKeys,
  });
  return ajv;
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf("/");
  // No slash: a core kind such as v1 ConfigMap, which no CRD defines.
  if (slash < 0) return { group: "", version: apiVersion };
  return { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

function definitionKey(group: string, kind: string): string {
  return `${group}/${kind}`;
}

/** Pulls CRDs out of parsed documents: lists are opened, any other kind is skipped. */
function collectCrdDocuments(doc: unknown, out: JsonObject[]): void {
  if (!isRecord(doc)) return;
  if (
    doc.kind === "CustomResourceDefinition" &&
    typeof doc.apiVersion === "string" &&
    doc.apiVersion.startsWith("apiextensions.k8s.io/")
  ) {
    out.push(doc);
    return;
  }
  // `kubectl get crd -o yaml` gives `kind: List`; the typed list is CustomResourceDefinitionList.
  if (typeof doc.kind === "string" && doc.kind.endsWith("List") && Array.isArray(doc.items)) {
    for (const item of doc.items) collectCrdDocuments(item, out);
  }
}

function parseDefinition(doc: JsonObject, source: string): CrdDefinition {
  const spec = isRecord(doc.spec) ? doc.spec : {};
  const names = isRecord(spec.names) ? spec.names : {};
  const metadata = isRecord(doc.metadata) ? doc.metadata : {};
  const group = spec.group;
  const kind = names.kind;
  const name =
    typeof metadata.name === "string" ? metadata.name : `${String(names.plural)}.${String(group)}`;
  if (typeof group !== "string" || typeof kind !== "string") {
    throw new Error(
      `${source}: CustomResourceDefinition ${name} has no spec.group or spec.names.kind`,
    );
  }
  // apiextensions v1beta1 could give one version (spec.version) and one top-level schema.
  const rawVersions: unknown[] = Array.isArray(spec.versions)
    ? spec.versions
    : typeof spec.version === "string"
      ? [{ name: spec.version, served: true }]
      : [];
  const topLevelSchema = isRecord(spec.validation) ? spec.validation.openAPIV3Schema : undefined;
  const versions: CrdVersion[] = [];
  for (const raw of rawVersions) {
    if (!isRecord(raw) || typeof raw.name !== "string") continue;
    const perVersion = isRecord(raw.schema) ? raw.schema.openAPIV3Schema : undefined;
    // No schema at all: Kubernetes keeps whatever is sent, and so do we (metadata aside).
    const schema = perVersion ??
      topLevelSchema ?? {
        type: "object",
        "x-kubernetes-preserve-unknown-fields": true,
      };
    const ctx: ConvertContext = { celRules: 0, notes: new Set() };
    const converted = convertNode(schema, ctx, true, "root");
    const unenforced = [...ctx.notes];
    if (ctx.celRules > 0) {
      unenforced.unshift(`${ctx.celRules} x-kubernetes-validations (CEL) rule(s) not evaluated`);
    }
    versions.push({ name: raw.name, served: raw.served === true, schema: converted, unenforced });
  }
  return { name, group, kind, source, versions };
}

function yamlFilesUnder(dir: string): string[] {
  const files: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    // Skip .git and the like: a CRD dump kept in a repository must not pick up its history.
    if (entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    const stat = fs.statSync(full); // follows symlinks, unlike entry.isDirectory()
    if (stat.isDirectory()) files.push(...yamlFilesUnder(full));
    else if (/\.ya?ml$/i.test(entry.name)) files.push(full);
  }
  return files.sort();
}

/**
 * Every YAML document of the *.yaml / *.yml files under `dir` (or of `dir` itself, one file),
 * files in name order, hidden entries skipped: the same files a catalog reads.
 */
export function yamlDocumentsUnder(dir: string): unknown[] {
  const files = fs.statSync(dir).isDirectory() ? yamlFilesUnder(dir) : [dir];
  return files.flatMap(parseYamlFile);
}

function parseYamlFile(file: string): unknown[] {
  const docs = parseAllDocuments(fs.readFileSync(file, "utf8"));
  // parseAllDocuments returns a bare array of documents, or an EmptyStream, never throws.
  const list = Array.isArray(docs) ? docs : [];
  return list.map((doc) => {
    if (doc.errors.length > 0) {
      throw new Error(`${file}: invalid YAML: ${doc.errors[0].message}`);
    }
    return doc.toJS({ maxAliasCount: -1 }) as unknown;
  });
}

/** Turns ajv's JSON pointer into `spec.traffic[0].tag`, using the data to tell arrays from maps. */
function dottedPath(pointer: string, root: unknown): string {
  if (pointer === "") return "";
  let out = "";
  let node: unknown = root;
  for (const raw of pointer.slice(1).split("/")) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node)) {
      out += `[${segment}]`;
      node = node[Number(segment)];
      continue;
    }
    out += /^[A-Za-z_$][\w$-]*$/.test(segment)
      ? `${out === "" ? "" : "."}${segment}`
      : `[${JSON.stringify(segment)}]`;
    node = isRecord(node) ? node[segment] : undefined;
  }
  return out;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "object") return "object";
  const text = JSON.stringify(value) ?? String(value);
  return `${typeof value} ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

function valueAt(pointer: string, root: unknown): unknown {
  let node = root;
  if (pointer === "") return node;
  for (const raw of pointer.slice(1).split("/")) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node)) node = node[Number(segment)];
    else if (isRecord(node)) node = node[segment];
    else return undefined;
  }
  return node;
}

function typeList(type: unknown): string {
  const types = Array.isArray(type) ? type.map(String) : String(type).split(",");
  return types.join(" or ");
}

/** "must be integer, got string \"20\"": the value shown, as the fix usually depends on it. */
function mustBe(types: string, pointer: string, data: unknown): string {
  return `must be ${types}, got ${describeValue(valueAt(pointer, data))}`;
}

function messageFor(error: ErrorObject, data: unknown): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "additionalProperties":
      return `unknown field ${JSON.stringify(params.additionalProperty)}`;
    case "required":
      return `missing required field ${JSON.stringify(params.missingProperty)}`;
    case "type":
      return mustBe(typeList(params.type), error.instancePath, data);
    case "enum": {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues : [];
      const shown = allowed.map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
      return `must be one of: ${shown.join(", ")}`;
    }
    case "pattern": {
      const named = PATTERN_NAMES.get(String(params.pattern));
      return named ? `must be ${named}` : (error.message ?? "does not match its pattern");
    }
    case "uniqueItems": {
      const [first, second] = [Number(params.i), Number(params.j)].sort((a, b) => a - b);
      return `duplicate items [${first}] and [${second}] in a set-type list`;
    }
    default:
      return error.message ?? `fails ${error.keyword}`;
  }
}

/**
 * Converts ajv errors to violations. anyOf/oneOf failures would otherwise print one error per
 * branch plus the summary; the branches are folded into the summary's message.
 */
function toViolations(errors: ErrorObject[], data: unknown): SchemaViolation[] {
  const folded = new Set<ErrorObject>();
  const summaries = new Map<ErrorObject, string>();
  for (const error of errors) {
    if (error.keyword !== "anyOf" && error.keyword !== "oneOf") continue;
    const branchPrefix = `${error.schemaPath}/`;
    const branches = errors.filter(
      (e) =>
        e.schemaPath.startsWith(branchPrefix) &&
        (e.instancePath === error.instancePath ||
          e.instancePath.startsWith(`${error.instancePath}/`)),
    );
    branches.forEach((e) => folded.add(e));
    const params = error.params as Record<string, unknown>;
    if (error.keyword === "oneOf" && Array.isArray(params.passingSchemas)) {
      summaries.set(
        error,
        `must match exactly one of the alternatives, matched ${params.passingSchemas.length}`,
      );
    } else if (
      branches.length > 0 &&
      branches.every((e) => e.keyword === "type" && e.instancePath === error.instancePath)
    ) {
      const types = branches.map((e) => typeList((e.params as Record<string, unknown>).type));
      summaries.set(error, mustBe([...new Set(types)].join(" or "), error.instancePath, data));
    } else {
      const reasons = [...new Set(branches.map((e) => messageFor(e, data)))];
      summaries.set(error, `must match one of the alternatives (${reasons.join("; ")})`);
    }
  }

  const seen = new Set<string>();
  const violations: SchemaViolation[] = [];
  for (const error of errors) {
    if (folded.has(error)) continue;
    // The inner error of propertyNames says which key is wrong; the outer one adds nothing.
    if (error.keyword === "propertyNames") continue;
    let message = summaries.get(error) ?? messageFor(error, data);
    if (error.propertyName !== undefined)
      message = `key ${JSON.stringify(error.propertyName)} ${message}`;
    const violation = { path: dottedPath(error.instancePath, data), message };
    const id = `${violation.path}\u0000${violation.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    violations.push(violation);
  }
  return violations;
}

export class CrdCatalog {
  private readonly definitions = new Map<string, CrdDefinition>();
  private readonly compiled = new Map<CrdVersion, ValidateFunction>();
  // One ajv instance per catalog: compiled validators live as long as the catalog does.
  private readonly ajv = newAjv();

  private constructor(definitions: CrdDefinition[]) {
    for (const definition of definitions) {
      const key = definitionKey(definition.group, definition.kind);
      const existing = this.definitions.get(key);
      if (existing) {
        // Which of two copies is right cannot be guessed; a stale copy would validate wrongly.
        throw new Error(
          `CustomResourceDefinition for ${definition.group} ${definition.kind} found twice: ` +
            `${existing.name} in ${existing.source} and ${definition.name} in ${definition.source}`,
        );
      }
      this.definitions.set(key, definition);
    }
  }

  /**
   * Loads every CRD in the *.yaml / *.yml files under `dir`, recursively (hidden entries are
   * skipped). `dir` may also be one file, such as the output of `kubectl get crd -o yaml`.
   */
  static fromDirectory(dir: string): CrdCatalog {
    if (!fs.existsSync(dir)) throw new Error(`CRD directory not found: ${dir}`);
    const files = fs.statSync(dir).isDirectory() ? yamlFilesUnder(dir) : [dir];
    const definitions: CrdDefinition[] = [];
    for (const file of files) {
      const docs: JsonObject[] = [];
      for (const doc of parseYamlFile(file)) collectCrdDocuments(doc, docs);
      for (const doc of docs) definitions.push(parseDefinition(doc, file));
    }
    if (definitions.length === 0) throw new Error(`no CustomResourceDefinition found in ${dir}`);
    return new CrdCatalog(definitions);
  }

  /** Builds a catalog from already parsed documents; non-CRD documents are skipped. */
  static fromDocuments(docs: unknown[], source = "<documents>"): CrdCatalog {
    const crds: JsonObject[] = [];
    for (const doc of docs) collectCrdDocuments(doc, crds);
    if (crds.length === 0) throw new Error(`no CustomResourceDefinition found in ${source}`);
    return new CrdCatalog(crds.map((doc) => parseDefinition(doc, source)));
  }

  has(apiVersion: string, kind: string): boolean {
    return this.servedVersion(apiVersion, kind) !== undefined;
  }

  /** "group/version Kind" strings known, sorted */
  kinds(): string[] {
    const kinds: string[] = [];
    for (const definition of this.definitions.values()) {
      for (const version of definition.versions) {
        if (version.served) kinds.push(`${definition.group}/${version.name} ${definition.kind}`);
      }
    }
    return kinds.sort();
  }

  /** Number of CRDs loaded. */
  get size(): number {
    return this.definitions.size;
  }

  /**
   * What `validate` cannot check for this kind: CEL rules (x-kubernetes-validations) and
   * formats or patterns it had to drop. Empty for an unknown kind.
   */
  unenforced(apiVersion: string, kind: string): string[] {
    return [...(this.servedVersion(apiVersion, kind)?.unenforced ?? [])];
  }

  /** Compiles every served version now (validate compiles lazily); returns how many. */
  compileAll(): number {
    let count = 0;
    for (const definition of this.definitions.values()) {
      for (const version of definition.versions) {
        if (!version.served) continue;
        this.validatorFor(definition, version);
        count++;
      }
    }
    return count;
  }

  /**
   * Empty when valid. A kind/version with no CRD (or a version not served) is ONE violation
   * saying so and which versions exist.
   */
  validate(manifest: Manifest): SchemaViolation[] {
    const { apiVersion, kind } = manifest;
    if (typeof apiVersion !== "string" || typeof kind !== "string") {
      return [{ path: "", message: "apiVersion and kind must be strings" }];
    }
    const { group, version } = splitApiVersion(apiVersion);
    const definition = this.definitions.get(definitionKey(group, kind));
    if (!definition)
      return [{ path: "kind", message: this.unknownKindMessage(group, version, kind) }];
    const crdVersion = definition.versions.find((v) => v.name === version && v.served);
    if (!crdVersion) {
      const served = definition.versions.filter((v) => v.served).map((v) => v.name);
      const unserved = definition.versions.filter((v) => !v.served).map((v) => v.name);
      const notServed = unserved.length > 0 ? `; not served: ${unserved.join(", ")}` : "";
      return [
        {
          path: "apiVersion",
          message:
            `${group} ${kind} has no served version ${JSON.stringify(version)} ` +
            `(CRD ${definition.name}); served versions: ${served.join(", ") || "none"}${notServed}`,
        },
      ];
    }
    const validateFn = this.validatorFor(definition, crdVersion);
    // Validate what would be sent: JSON drops undefined values and turns Dates into strings.
    const data: unknown = JSON.parse(JSON.stringify(manifest));
    if (validateFn(data)) return [];
    return toViolations(validateFn.errors ?? [], data);
  }

  private servedVersion(apiVersion: string, kind: string): CrdVersion | undefined {
    const { group, version } = splitApiVersion(apiVersion);
    const definition = this.definitions.get(definitionKey(group, kind));
    return definition?.versions.find((v) => v.name === version && v.served);
  }

  private unknownKindMessage(group: string, version: string, kind: string): string {
    const apiVersion = group === "" ? version : `${group}/${version}`;
    const base = `no CustomResourceDefinition for ${apiVersion} ${kind}`;
    const sameKind = [...this.definitions.values()].filter((d) => d.kind === kind);
    if (sameKind.length > 0) {
      const where = sameKind.map(
        (d) => `${d.group} (versions: ${d.versions.map((v) => v.name).join(", ")})`,
      );
      return `${base}; ${kind} is defined in ${where.join(", ")}`;
    }
    const inGroup = [...this.definitions.values()]
      .filter((d) => d.group === group)
      .map((d) => d.kind);
    if (inGroup.length > 0) return `${base}; kinds in ${group}: ${inGroup.sort().join(", ")}`;
    return `${base}; no CRD of group ${JSON.stringify(group)} is loaded`;
  }

  private validatorFor(definition: CrdDefinition, version: CrdVersion): ValidateFunction {
    const cached = this.compiled.get(version);
    if (cached) return cached;
    let validateFn: ValidateFunction;
    try {
      validateFn = this.ajv.compile(version.schema as AnySchema);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(
        `cannot compile the schema of ${definition.group}/${version.name} ${definition.kind} ` +
          `(${definition.source}): ${reason}`,
      );
    }
    this.compiled.set(version, validateFn);
    return validateFn;
  }
}
