// Emulates how Tekton Triggers (v0.37) processes ONE webhook delivery through the manifests as
// rendered: EventListener -> interceptors -> bindings -> template -> created resources. Used to
// replay real GitHub payloads offline. Each step follows the upstream source (tektoncd/triggers):
//
//   pkg/sink/validate_payload.go      the body must decode as a JSON object, else 400
//   pkg/sink/sink.go                  triggers run independently; interceptors in order, each
//                                     may stop the trigger; extensions merge along the chain
//   pkg/interceptors/github/github.go form-encoded bodies refused; eventTypes allow-list on
//                                     X-GitHub-Event; then secretRef: X-Hub-Signature-256 (else
//                                     X-Hub-Signature) checked with go-github ValidateSignature
//                                     (HMAC of the raw body, hmac.Equal)
//   pkg/interceptors/secret_getter.go the Secret and key must exist
//   pkg/interceptors/cel/cel.go       body/header/extensions/requestURL; filter must be `true`;
//                                     overlays set extensions.<key> (sjson paths)
//   pkg/template/resource.go          bindings resolved by ref; duplicate param names are an
//                                     error; $(tt.params.X) and then $(uid) replaced in the raw
//                                     JSON of each resource template
//   pkg/template/event.go, jsonpath.go $(...) resolved with Kubernetes JSONPath on
//                                     {body, header, extensions, context}: missing key -> error
//                                     unless the template param has a default; strings inserted
//                                     JSON-escaped without quotes, other values JSON-marshalled
//   pkg/resources/create.go           labels triggers.tekton.dev/{eventlistener,trigger,
//                                     triggers-eventid} added; namespace defaults to the EL's
//
// CEL runs on @bufbuild/cel with its strings extension; cel-go with ext.Strings() (what Tekton
// uses) implements the same functions. Not emulated, and thrown as EmulatorLimitation rather than
// guessed: Tekton's own CEL functions (truncate, match, compareSecret...), cel-go's static type
// check, other interceptors, triggerRef/triggerGroups/selectors, JSONPath wildcards and filters.
import * as crypto from "crypto";
import { run, isCelError, isCelList, isCelMap, isCelUint, CelInput, CelValue } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import type { Manifest } from "../../common/json";

export interface TriggerSetup {
  readonly eventListener: Manifest;
  readonly bindings: readonly Manifest[];
  readonly template: Manifest;
  /** Secrets of the EventListener's namespace: name -> key -> (decoded) value. */
  readonly secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface WebhookDelivery {
  /** As sent: X-GitHub-Event, X-Hub-Signature-256, Content-Type... (any case). */
  readonly headers: Readonly<Record<string, string>>;
  /** The raw body, exactly the bytes that were signed (as UTF-8). */
  readonly body: string;
}

export interface EmulatorOptions {
  /** Event ID (label triggers.tekton.dev/triggers-eventid); random by default, as in Tekton. */
  readonly eventId?: string;
  /** Value of $(uid); random by default, as in Tekton. */
  readonly uid?: string;
  /** requestURL seen by CEL. */
  readonly requestUrl?: string;
}

export type DeliveryOutcome =
  | { readonly fired: false; readonly reason: string }
  | { readonly fired: true; readonly resources: Manifest[] };

/** Something Tekton supports that this emulator does not: never silently guessed. */
export class EmulatorLimitation extends Error {}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type HeaderMap = Map<string, string[]>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Go decodes JSON strings into UTF-8: a lone surrogate (from a \ud800 escape) becomes U+FFFD.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function parseGoJson(text: string): Json {
  return JSON.parse(text, (_key, value: unknown) =>
    typeof value === "string" ? value.replace(LONE_SURROGATE, "\uFFFD") : value,
  ) as Json;
}

/** http.CanonicalHeaderKey: "x-github-event" -> "X-Github-Event". */
export function canonicalHeaderKey(key: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(key)) return key;
  return key
    .toLowerCase()
    .replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

function headerMap(headers: Readonly<Record<string, string>>): HeaderMap {
  const map: HeaderMap = new Map();
  for (const [key, value] of Object.entries(headers)) {
    const canonical = canonicalHeaderKey(key);
    map.set(canonical, [...(map.get(canonical) ?? []), value]);
  }
  return map;
}

function headerGet(headers: HeaderMap, key: string): string {
  return headers.get(canonicalHeaderKey(key))?.[0] ?? "";
}

// --- Go encoding/json, as Tekton inserts values into bindings ---------------------------------

function goQuote(value: string): string {
  return JSON.stringify(value.replace(LONE_SURROGATE, "\uFFFD"))
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** json.Marshal of a decoded JSON value: map keys sorted by their UTF-8 bytes, HTML escaped. */
export function goJsonMarshal(value: Json): string {
  if (value === null) return "null";
  if (typeof value === "string") return goQuote(value);
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : JSON.stringify(value);
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(goJsonMarshal).join(",")}]`;
  const keys = Object.keys(value).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return `{${keys.map((k) => `${goQuote(k)}:${goJsonMarshal(value[k])}`).join(",")}}`;
}

// --- Interceptors ----------------------------------------------------------------------------

interface InterceptorResult {
  readonly continue: boolean;
  readonly message?: string;
  readonly extensions?: JsonObject;
}

interface InterceptorRequest {
  readonly body: string;
  readonly headers: HeaderMap;
  readonly extensions: JsonObject;
  readonly params: Record<string, unknown>;
  readonly secrets: TriggerSetup["secrets"];
  readonly namespace: string;
  readonly requestUrl: string;
}

const fail = (message: string): InterceptorResult => ({ continue: false, message });

/** go-github ValidateSignature: "<sha1|sha256|sha512>=<hex>", compared in constant time. */
export function validateSignature(
  signature: string,
  payload: Buffer,
  secret: Buffer,
): string | undefined {
  if (signature === "") return "missing signature";
  const eq = signature.indexOf("=");
  if (eq < 0) return `error parsing signature ${JSON.stringify(signature)}`;
  const prefix = signature.slice(0, eq);
  const hex = signature.slice(eq + 1);
  const algorithm = { sha1: "sha1", sha256: "sha256", sha512: "sha512" }[prefix];
  if (algorithm === undefined) return `unknown hash type prefix: ${JSON.stringify(prefix)}`;
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) {
    return `error decoding signature ${JSON.stringify(signature)}: invalid hex`;
  }
  const given = Buffer.from(hex, "hex");
  const expected = crypto.createHmac(algorithm, secret).update(payload).digest();
  // hmac.Equal: false for different lengths, constant time otherwise.
  const equal = given.length === expected.length && crypto.timingSafeEqual(given, expected);
  return equal ? undefined : "payload signature check failed";
}

function githubInterceptor(req: InterceptorRequest): InterceptorResult {
  if (headerGet(req.headers, "Content-Type") === "application/x-www-form-urlencoded") {
    return fail(
      "form parameter encoding not supported, please change the hook to send JSON payloads",
    );
  }
  const { eventTypes, secretRef, addChangedFiles, githubOwners } = req.params;
  if (isObject(addChangedFiles) && addChangedFiles.enabled === true) {
    throw new EmulatorLimitation("github interceptor addChangedFiles calls the GitHub API");
  }
  if (isObject(githubOwners) && githubOwners.enabled === true) {
    throw new EmulatorLimitation("github interceptor githubOwners calls the GitHub API");
  }
  if (eventTypes !== undefined && eventTypes !== null) {
    if (!Array.isArray(eventTypes) || !eventTypes.every((t) => typeof t === "string")) {
      return fail(`failed to parse interceptor params: eventTypes must be a list of strings`);
    }
    const actual = headerGet(req.headers, "X-GitHub-Event");
    if (!eventTypes.includes(actual)) return fail(`event type ${actual} is not allowed`);
  }
  if (secretRef !== undefined && secretRef !== null) {
    if (!isObject(secretRef)) return fail("failed to parse interceptor params: secretRef");
    const secretName = typeof secretRef.secretName === "string" ? secretRef.secretName : "";
    const secretKey = typeof secretRef.secretKey === "string" ? secretRef.secretKey : "";
    if (secretKey === "") return fail("github interceptor secretRef.secretKey is empty");
    const header =
      headerGet(req.headers, "X-Hub-Signature-256") || headerGet(req.headers, "X-Hub-Signature");
    if (header === "") return fail("Must set X-Hub-Signature-256 or X-Hub-Signature header");
    const secret = req.secrets[secretName];
    if (secret === undefined) {
      return fail(`error getting secret: secrets ${JSON.stringify(secretName)} not found`);
    }
    const token = secret[secretKey];
    if (token === undefined) {
      return fail(
        `error getting secret: cannot find ${secretKey} key in secret ${req.namespace}/${secretName}`,
      );
    }
    const problem = validateSignature(
      header,
      Buffer.from(req.body, "utf8"),
      Buffer.from(token, "utf8"),
    );
    if (problem !== undefined) return fail(problem);
  }
  return { continue: true };
}

function toCelInput(value: Json): CelInput {
  if (Array.isArray(value)) return value.map(toCelInput);
  if (value !== null && typeof value === "object") {
    return new Map(Object.entries(value).map(([k, v]) => [k, toCelInput(v)]));
  }
  return value;
}

/** An overlay's value as cel.go serialises it into the extensions (via structpb / protojson). */
function overlayJson(value: CelValue, nested = false): Json {
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (value === null) {
    // structpb holds null inside lists and maps; a null result itself has no conversion.
    if (nested) return null;
    throw new Error("null_type has no conversion to JSON bytes");
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (isCelUint(value)) {
    if (nested) return Number(value.value);
    throw new Error("uint has no conversion to JSON bytes");
  }
  if (isCelList(value)) return [...value].map((v) => overlayJson(v, true));
  if (isCelMap(value)) {
    const out: JsonObject = {};
    for (const [k, v] of value) {
      if (typeof k !== "string") throw new Error(`map key ${String(k)} is not a string`);
      out[k] = overlayJson(v, true);
    }
    return out;
  }
  throw new Error(`a ${typeof value} has no JSON form`);
}

/** sjson.SetRawBytes on an object, for the plain dotted paths overlays use ("a.b" nests). */
function setPath(target: JsonObject, key: string, value: Json): void {
  const parts = key.split(".");
  if (/[*?#|@\\]/.test(key) || parts.some((part) => part === "" || part === "__proto__")) {
    throw new EmulatorLimitation(`overlay key ${JSON.stringify(key)}: only plain dotted paths`);
  }
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (!isObject(next)) node[part] = {};
    node = node[part] as JsonObject;
  }
  node[parts[parts.length - 1]] = value;
}

function evaluateCel(expression: string, vars: Record<string, CelInput>): CelValue {
  const result = run(expression, vars, { funcs: strings });
  if (isCelError(result)) {
    throw new Error(
      `expression ${JSON.stringify(expression)} failed to evaluate: ${result.message}`,
    );
  }
  return result;
}

function celInterceptor(req: InterceptorRequest): InterceptorResult {
  const { filter, overlays } = req.params;
  if (filter !== undefined && typeof filter !== "string") {
    return fail("failed to parse interceptor params: filter must be a string");
  }
  if (overlays !== undefined && !Array.isArray(overlays)) {
    return fail("failed to parse interceptor params: overlays must be a list");
  }
  let body: Json;
  try {
    body = parseGoJson(req.body === "" ? "{}" : req.body);
  } catch (error) {
    return fail(`error making the evaluation context: failed to parse the body as JSON: ${error}`);
  }
  // Decoded into map[string]interface{}: an object, or null (a nil map).
  if (body !== null && !isObject(body)) {
    return fail("error making the evaluation context: failed to parse the body as JSON object");
  }
  const vars: Record<string, CelInput> = {
    body: toCelInput(body ?? {}),
    header: new Map([...req.headers].map(([k, v]) => [k, v] as [string, CelInput])),
    extensions: toCelInput(req.extensions),
    requestURL: req.requestUrl,
  };
  if (filter !== undefined && filter !== "") {
    let out: CelValue;
    try {
      out = evaluateCel(filter, vars);
    } catch (error) {
      return fail(`error evaluating cel expression: ${(error as Error).message}`);
    }
    if (out !== true) return fail(`expression ${filter} did not return true`);
  }
  let extensions: JsonObject | undefined;
  for (const raw of overlays ?? []) {
    const key = isObject(raw) && typeof raw.key === "string" ? raw.key : "";
    const expression = isObject(raw) && typeof raw.expression === "string" ? raw.expression : "";
    let value: CelValue;
    try {
      value = evaluateCel(expression, vars);
    } catch (error) {
      return fail(`error evaluating cel expression: ${(error as Error).message}`);
    }
    let json: Json;
    try {
      json = overlayJson(value);
    } catch (error) {
      return fail(`failed to convert overlay result to type: ${(error as Error).message}`);
    }
    extensions ??= {};
    setPath(extensions, key, json);
  }
  return { continue: true, extensions };
}

const INTERCEPTORS: Readonly<Record<string, (req: InterceptorRequest) => InterceptorResult>> = {
  github: githubInterceptor,
  cel: celInterceptor,
};

// --- Bindings: Tekton's relaxed JSONPath ------------------------------------------------------

type PathStep = { field: string } | { index: number };

/** Parses the inside of `$(...)`: `a.b`, `a[0]`, `a['k']`, with or without `{}` and leading `.`. */
function parsePath(expression: string): PathStep[] {
  const match = /^\{\.?([^{}]+)\}$|^\.?([^{}]+)$/.exec(expression);
  if (match === null) {
    throw new Error(
      "unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'",
    );
  }
  const path = match[1] ?? match[2];
  const steps: PathStep[] = [];
  const token = /\.?([^.[\]]+)|\[(-?\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/y;
  let at = 0;
  while (at < path.length) {
    token.lastIndex = at;
    const t = token.exec(path);
    if (t === null || (t[1] !== undefined && /[*$@,\s\\:?()]/.test(t[1]))) {
      throw new EmulatorLimitation(
        `JSONPath ${JSON.stringify(expression)}: only fields and [index]`,
      );
    }
    if (t[2] !== undefined) steps.push({ index: Number(t[2]) });
    else steps.push({ field: t[1] ?? t[3] ?? t[4] });
    at = token.lastIndex;
  }
  return steps;
}

/** k8s.io/client-go/util/jsonpath with AllowMissingKeys(false), then Tekton's printResults. */
function resolvePath(event: Json, expression: string): string {
  let value: Json = event;
  for (const step of parsePath(expression)) {
    if ("field" in step) {
      if (!isObject(value) || !Object.prototype.hasOwnProperty.call(value, step.field)) {
        throw new Error(`${step.field} is not found`);
      }
      value = (value as JsonObject)[step.field];
    } else {
      if (!Array.isArray(value)) throw new Error(`${goJsonMarshal(value)} is not array or slice`);
      const index = step.index < 0 ? step.index + value.length : step.index;
      if (index < 0 || index >= value.length) {
        throw new Error(`array index out of bounds: index ${step.index}, length ${value.length}`);
      }
      value = value[index];
    }
  }
  if (typeof value === "string") return goQuote(value).slice(1, -1);
  return goJsonMarshal(value);
}

/** findTektonExpressions: each `$(` up to its first unbalanced `)`; header names canonicalised. */
function tektonExpressions(value: string): { original: string; path: string }[] {
  if (!value.includes("$(")) return [];
  const found: { original: string; path: string }[] = [];
  for (const part of value.split("$(").slice(1)) {
    let open = 0;
    for (let i = 0; i < part.length; i++) {
      if (part[i] === "(") open++;
      else if (part[i] === ")" && --open < 0) {
        const raw = part.slice(0, i);
        const path = raw.startsWith("header.")
          ? `header.${canonicalHeaderKey(raw.slice("header.".length))}`
          : raw;
        found.push({ original: `$(${raw})`, path });
        break;
      }
    }
  }
  return found;
}

// --- The sink ----------------------------------------------------------------------------------

function paramsOf(interceptor: Record<string, unknown>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const p of Array.isArray(interceptor.params) ? interceptor.params : []) {
    if (isObject(p) && typeof p.name === "string") params[p.name] = p.value;
  }
  return params;
}

interface Param {
  readonly name: string;
  readonly value: string;
}

function bindingParams(trigger: Record<string, unknown>, setup: TriggerSetup): Param[] {
  const params: Param[] = [];
  for (const b of Array.isArray(trigger.bindings) ? trigger.bindings : []) {
    if (!isObject(b)) throw new Error(`invalid binding: ${JSON.stringify(b)}`);
    if (typeof b.name === "string" && b.name !== "" && typeof b.value === "string") {
      params.push({ name: b.name, value: b.value });
      continue;
    }
    if (typeof b.ref !== "string" || b.ref === "") {
      throw new Error(`invalid binding: ${JSON.stringify(b)}`);
    }
    const kind = b.kind === "ClusterTriggerBinding" ? "ClusterTriggerBinding" : "TriggerBinding";
    const found = setup.bindings.find(
      (m) => m.kind === kind && isObject(m.metadata) && m.metadata.name === b.ref,
    );
    if (found === undefined) {
      throw new Error(
        `error getting ${kind} ${b.ref}: ${kind.toLowerCase()}s "${b.ref}" not found`,
      );
    }
    const spec = isObject(found.spec) ? found.spec : {};
    for (const p of Array.isArray(spec.params) ? spec.params : []) {
      if (isObject(p) && typeof p.name === "string" && typeof p.value === "string") {
        params.push({ name: p.name, value: p.value });
      }
    }
  }
  const seen = new Set<string>();
  for (const p of params) {
    if (seen.has(p.name))
      throw new Error(`failed to resolve bindings: duplicate param name: ${p.name}`);
    seen.add(p.name);
  }
  return params;
}

function templateOf(
  trigger: Record<string, unknown>,
  setup: TriggerSetup,
): Record<string, unknown> {
  const ref = isObject(trigger.template) ? trigger.template : {};
  if (isObject(ref.spec)) return { metadata: {}, spec: ref.spec };
  const name = typeof ref.ref === "string" ? ref.ref : "";
  const tt = setup.template;
  if (tt.kind !== "TriggerTemplate" || !isObject(tt.metadata) || tt.metadata.name !== name) {
    throw new Error(`error getting TriggerTemplate ${name}: triggertemplates "${name}" not found`);
  }
  return tt;
}

interface TriggerContext {
  readonly eventListenerName: string;
  readonly namespace: string;
  readonly eventId: string;
  readonly uid: string;
  readonly requestUrl: string;
}

function processTrigger(
  trigger: Record<string, unknown>,
  setup: TriggerSetup,
  delivery: WebhookDelivery,
  headers: HeaderMap,
  ctx: TriggerContext,
): DeliveryOutcome {
  if (typeof trigger.triggerRef === "string" && trigger.triggerRef !== "") {
    throw new EmulatorLimitation("triggerRef (Trigger objects) is not emulated");
  }
  const triggerName = typeof trigger.name === "string" ? trigger.name : "";

  // Interceptors, in order; each may stop this trigger.
  const extensions: JsonObject = {};
  for (const raw of Array.isArray(trigger.interceptors) ? trigger.interceptors : []) {
    if (!isObject(raw)) throw new Error(`interceptor ${JSON.stringify(raw)} is not an object`);
    if (raw.webhook !== undefined) throw new EmulatorLimitation("webhook interceptors");
    const ref = isObject(raw.ref) ? raw.ref : {};
    const name = typeof ref.name === "string" ? ref.name : "";
    const kind = typeof ref.kind === "string" && ref.kind !== "" ? ref.kind : "ClusterInterceptor";
    const interceptor = INTERCEPTORS[name];
    if (kind !== "ClusterInterceptor" || interceptor === undefined) {
      throw new EmulatorLimitation(`interceptor ${kind} ${JSON.stringify(name)}`);
    }
    const result = interceptor({
      body: delivery.body,
      headers,
      extensions: { ...extensions },
      params: paramsOf(raw),
      secrets: setup.secrets,
      namespace: ctx.namespace,
      requestUrl: ctx.requestUrl,
    });
    if (!result.continue) {
      return {
        fired: false,
        reason: `interceptor ${name} stopped trigger processing: ${result.message}`,
      };
    }
    Object.assign(extensions, result.extensions ?? {});
  }

  // Bindings and template.
  let params: Param[];
  let template: Record<string, unknown>;
  try {
    params = bindingParams(trigger, setup);
    template = templateOf(trigger, setup);
  } catch (error) {
    return { fired: false, reason: (error as Error).message };
  }
  const spec = isObject(template.spec) ? template.spec : {};
  const values = new Map<string, string>();
  const paramSpecs = Array.isArray(spec.params) ? spec.params.filter(isObject) : [];
  for (const p of paramSpecs) {
    if (typeof p.name === "string" && typeof p.default === "string") values.set(p.name, p.default);
  }
  const event: JsonObject = {
    header: Object.fromEntries([...headers].map(([k, v]) => [k, v.join(",")])),
    body: delivery.body === "" ? null : parseGoJson(delivery.body),
    extensions,
    context: { eventID: ctx.eventId },
  };
  for (const p of params) {
    let value = p.value;
    for (const expression of tektonExpressions(p.value)) {
      let resolved: string;
      try {
        resolved = resolvePath(event, expression.path);
      } catch (error) {
        if (error instanceof EmulatorLimitation) throw error;
        // A missing value falls back to the template param's default, when there is one.
        const fallback = paramSpecs.length > 0 ? values.get(p.name) : undefined;
        if (fallback === undefined) {
          return {
            fired: false,
            reason:
              `failed to ApplyEventValuesToParams: failed to replace JSONPath value for param ` +
              `${p.name}: ${p.value}: ${(error as Error).message}`,
          };
        }
        resolved = fallback;
      }
      value = value.split(expression.original).join(resolved);
    }
    values.set(p.name, value);
  }

  // Resource templates: text substitution in the raw JSON, then $(uid).
  const metadata = isObject(template.metadata) ? template.metadata : {};
  const annotations = isObject(metadata.annotations) ? metadata.annotations : {};
  const oldEscape = "triggers.tekton.dev/old-escape-quotes" in annotations;
  const resources: Manifest[] = [];
  for (const resourceTemplate of Array.isArray(spec.resourcetemplates)
    ? spec.resourcetemplates
    : []) {
    let raw = JSON.stringify(resourceTemplate);
    // Go ranges over a map here (random order); sorted is one of those orders.
    for (const [name, value] of [...values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const inserted = oldEscape ? value.replace(/"/g, '\\"') : value;
      raw = raw.split(`$(tt.params.${name})`).join(inserted);
    }
    raw = raw.split("$(uid)").join(ctx.uid);
    let resource: unknown;
    try {
      resource = JSON.parse(raw);
    } catch (error) {
      return {
        fired: false,
        reason: `couldn't unmarshal json from the TriggerTemplate: ${(error as Error).message}`,
      };
    }
    if (
      !isObject(resource) ||
      typeof resource.apiVersion !== "string" ||
      typeof resource.kind !== "string"
    ) {
      return { fired: false, reason: "resource template has no apiVersion or kind" };
    }
    const meta = isObject(resource.metadata) ? { ...resource.metadata } : {};
    const labels = meta.labels ?? {};
    if (!isObject(labels) || !Object.values(labels).every((v) => typeof v === "string")) {
      return { fired: false, reason: "metadata.labels of the resource template are not strings" };
    }
    meta.labels = {
      ...labels,
      "triggers.tekton.dev/eventlistener": ctx.eventListenerName,
      "triggers.tekton.dev/triggers-eventid": ctx.eventId,
      "triggers.tekton.dev/trigger": triggerName,
    };
    if (typeof meta.namespace !== "string" || meta.namespace === "") meta.namespace = ctx.namespace;
    resources.push({
      ...resource,
      apiVersion: resource.apiVersion,
      kind: resource.kind,
      metadata: meta,
    });
  }
  return { fired: true, resources };
}

/**
 * Processes one delivery through the EventListener's triggers. Fired when at least one trigger
 * created its resources; otherwise the reason of every trigger that stopped.
 */
export function processDelivery(
  setup: TriggerSetup,
  delivery: WebhookDelivery,
  options: EmulatorOptions = {},
): DeliveryOutcome {
  const el = setup.eventListener;
  const metadata = isObject(el.metadata) ? el.metadata : {};
  const spec = isObject(el.spec) ? el.spec : {};
  if (
    spec.triggerGroups !== undefined ||
    spec.labelSelector !== undefined ||
    spec.namespaceSelector !== undefined
  ) {
    throw new EmulatorLimitation("triggerGroups and trigger selectors are not emulated");
  }
  // The sink's payload validation (on by default): the body must be a JSON object.
  try {
    const decoded = parseGoJson(delivery.body);
    if (decoded !== null && !isObject(decoded)) throw new Error("not a JSON object");
  } catch (error) {
    return { fired: false, reason: `Invalid event body format : ${(error as Error).message}` };
  }
  const ctx: TriggerContext = {
    eventListenerName: typeof metadata.name === "string" ? metadata.name : "",
    namespace: typeof metadata.namespace === "string" ? metadata.namespace : "default",
    eventId: options.eventId ?? crypto.randomUUID(),
    uid: options.uid ?? crypto.randomUUID(),
    requestUrl: options.requestUrl ?? "/",
  };
  const headers = headerMap(delivery.headers);
  const resources: Manifest[] = [];
  const reasons: string[] = [];
  const triggers = Array.isArray(spec.triggers) ? spec.triggers : [];
  for (const [i, trigger] of triggers.entries()) {
    if (!isObject(trigger)) throw new Error(`spec.triggers[${i}] is not an object`);
    const outcome = processTrigger(trigger, setup, delivery, headers, ctx);
    if (outcome.fired) resources.push(...outcome.resources);
    else reasons.push(`trigger ${String(trigger.name)}: ${outcome.reason}`);
  }
  if (resources.length > 0) return { fired: true, resources };
  return { fired: false, reason: reasons.join("; ") || "the EventListener has no triggers" };
}

/** The X-Hub-Signature-256 value GitHub sends for `body` signed with `secret`. */
export function signatureFor(body: string, secret: string): string {
  return `sha256=${crypto.createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

/** A delivery as GitHub sends it: JSON body, event name, signed with `secret`. */
export function githubDelivery(event: string, payload: unknown, secret: string): WebhookDelivery {
  const body = JSON.stringify(payload);
  return {
    headers: {
      "Content-Type": "application/json",
      "X-GitHub-Event": event,
      "X-GitHub-Delivery": crypto.randomUUID(),
      "X-Hub-Signature-256": signatureFor(body, secret),
    },
    body,
  };
}
