// The code that runs in the cluster (functions/), as the stack ships it: a program and every
// module it requires, in one ConfigMap named after their content.
//
// Layout: each file keeps its path under functions/ (revision-tester/server.js, shared/http.js),
// so `require("../shared/http")` resolves in the pod exactly as it does in the repository.
// ConfigMap keys cannot contain "/", so a file's key is its path with "/" written "__"
// (revision-tester__server.js), and the configMap volume's `items` map each key back to its
// path. A volume mounted at /app then holds /app/revision-tester/server.js and
// /app/shared/http.js, side by side as in functions/.
//
// Content-addressed: the name carries the hash of every file, so new code is a new ConfigMap
// (Pulumi replaces it), the pods that use it roll, and nothing ever edits code in place.
//
// Pure module: reads files, no Pulumi.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { Manifest } from "./manifest";

/** Where the in-cluster programs and their shared modules live. */
export const FUNCTIONS_DIR = path.resolve(__dirname, "..", "..", "functions");

/** What a ConfigMap key may be (Kubernetes: alphanumerics, '-', '_' and '.'). */
const CONFIG_MAP_KEY = /^[-._a-zA-Z0-9]+$/;
const MAX_CONFIG_MAP_KEY_LENGTH = 253;
/** Written for "/" in a key: no file name under functions/ contains it. */
const KEY_SEPARATOR = "__";

export interface CodeFile {
  /** The ConfigMap key. */
  readonly key: string;
  /** The path under functions/ and under the mount. */
  readonly path: string;
}

export interface CodeBundle {
  /** ConfigMap data: each file's content under its key. */
  readonly data: Readonly<Record<string, string>>;
  /** The configMap volume's items: each key back to its path, sorted by path. */
  readonly items: readonly CodeFile[];
  /** sha256 (hex) of every path and content, in path order; names carry its first 10. */
  readonly sha256: string;
}

/** The ConfigMap key of a path under functions/ ("shared/http.js" -> "shared__http.js"). */
export function codeKey(relativePath: string): string {
  const key = relativePath.split("/").join(KEY_SEPARATOR);
  if (
    !CONFIG_MAP_KEY.test(key) ||
    key.length > MAX_CONFIG_MAP_KEY_LENGTH ||
    relativePath.split("/").some((part) => part.includes(KEY_SEPARATOR) || part === "..")
  ) {
    throw new Error(
      `functions/${relativePath} cannot be shipped in a ConfigMap: its key ${JSON.stringify(key)} ` +
        `must be at most 253 of a-z, A-Z, 0-9, '-', '_' and '.', and no part of the path may ` +
        `contain "${KEY_SEPARATOR}" or be ".."; rename the file`,
    );
  }
  return key;
}

/**
 * sha256 over the files sorted by path: for each, its path, its length in bytes and its content,
 * so that no two different sets of files hash alike.
 */
export function codeHash(files: Readonly<Record<string, string>>): string {
  const hash = createHash("sha256");
  for (const file of Object.keys(files).sort()) {
    const content = files[file];
    hash.update(`${file}\n${Buffer.byteLength(content)}\n`).update(content);
  }
  return hash.digest("hex");
}

/**
 * The files of `entries`, each a path under `root` (default functions/): a file, or a folder for
 * every .js file directly in it. Throws when an entry does not exist.
 */
export function codeBundle(entries: readonly string[], root: string = FUNCTIONS_DIR): CodeBundle {
  const files: Record<string, string> = {};
  for (const entry of entries) {
    const full = path.join(root, entry);
    if (!fs.existsSync(full)) {
      throw new Error(`in-cluster code ${entry} does not exist under ${root}`);
    }
    const paths = fs.statSync(full).isDirectory()
      ? fs
          .readdirSync(full)
          .filter((name) => name.endsWith(".js"))
          .map((name) => `${entry}/${name}`)
      : [entry];
    for (const file of paths) files[file] = fs.readFileSync(path.join(root, file), "utf8");
  }
  const items = Object.keys(files)
    .sort()
    .map((file) => ({ key: codeKey(file), path: file }));
  // codeKey is one-to-one (no path part contains the separator): no two files share a key.
  const data = Object.fromEntries(items.map((item) => [item.key, files[item.path]]));
  return { data, items, sha256: codeHash(files) };
}

/** The configMap volume `name` that mounts `bundle` laid out as under functions/. */
export function codeVolume(
  name: string,
  configMapName: string,
  bundle: CodeBundle,
): Record<string, unknown> {
  return {
    name,
    configMap: {
      name: configMapName,
      items: bundle.items.map((item) => ({ key: item.key, path: item.path })),
    },
  };
}

export interface CodeConfigMap extends Manifest {
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  immutable: true;
  data: Record<string, string>;
}

/**
 * The ConfigMap holding `bundle`. Immutable: its name changes with its content, so it is never
 * edited, and the kubelet need not watch it.
 */
export function codeConfigMap(name: string, namespace: string, bundle: CodeBundle): CodeConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace, labels: { "app.kubernetes.io/part-of": "canary-release" } },
    immutable: true,
    data: { ...bundle.data },
  };
}
