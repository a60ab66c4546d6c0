// A configMap volume written to a local folder as the kubelet projects it, so that tests run
// in-cluster code laid out exactly as its pods see it (components/shared/inClusterCode.ts).
import * as fs from "fs";
import * as path from "path";

export interface KeyToPath {
  readonly key: string;
  readonly path: string;
}

/**
 * Writes `data` into `dir`: with `items`, each listed key at its path (sub-folders made as
 * needed), without, every key under its own name. A listed key missing from `data` throws, as
 * the kubelet then fails to mount the volume.
 */
export function writeConfigMapVolume(
  data: Readonly<Record<string, string>>,
  items: readonly KeyToPath[] | undefined,
  dir: string,
): void {
  const entries = items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const item of entries) {
    if (!(item.key in data)) {
      throw new Error(`the ConfigMap has no key ${item.key} (volume item for ${item.path})`);
    }
    if (path.isAbsolute(item.path) || item.path.split("/").includes("..")) {
      throw new Error(`volume item path ${item.path} must be relative, without ".."`);
    }
    const file = path.join(dir, item.path);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, data[item.key]);
  }
}
