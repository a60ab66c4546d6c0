// The prod stack as tests start from it. The committed Pulumi.prod.yaml is a fresh prod (no
// stable revision, no candidate), so a test that needs a canary in progress says so by applying
// PROD_CANARY_IN_PROGRESS, the one place that canary is spelt out.
import * as fs from "fs";
import { loadStackConfig, stackFiles, withStandInSecrets } from "../../conformance/programRunner";
import { editStackYaml } from "./memoryStackDriver";
import { withChanges } from "./resources";

/** Prod mid-canary: a stable revision, a candidate at 20 %, by full config key. */
export const PROD_CANARY_IN_PROGRESS: Readonly<Record<string, string>> = Object.freeze({
  "canary-release:stableRevision": "hello-1a2b3c4",
  "canary-release:candidateRevision": "hello-5d6e7f8",
  "canary-release:canaryPercent": "20",
});

/**
 * The committed prod stack's config with a stand-in for each credential, then `changes` (an
 * undefined value removes the key); secretKeys lists only the keys left.
 */
export function prodStack(changes: Readonly<Record<string, string | undefined>> = {}): {
  config: Record<string, string>;
  secretKeys: string[];
} {
  const loaded = withStandInSecrets(loadStackConfig(stackFiles().prod));
  const config = withChanges(loaded.config, changes);
  return { config, secretKeys: loaded.secretKeys.filter((key) => key in config) };
}

/** The committed Pulumi.prod.yaml text with `changes` to its config, comments kept. */
export function prodStackYaml(changes: Readonly<Record<string, string | undefined>> = {}): string {
  return editStackYaml(fs.readFileSync(stackFiles().prod, "utf8"), changes);
}
