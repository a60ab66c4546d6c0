// A Pulumi home and file backend for the real tier: the toolchain's Kubernetes provider
// installed as a plugin, no automatic plugin downloads (there is nowhere to download from),
// no update check. Nothing is read from or written to the user's own ~/.pulumi.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { Toolchain } from "./toolchain";

/** The passphrase of the local stacks' secrets: test state only, never a real secret. */
export const LOCAL_PASSPHRASE = "canary-release-local-state";

/** Creates `<dir>/home` and `<dir>/backend`; returns the environment the CLI needs for them. */
export function pulumiEnvironment(dir: string, toolchain: Toolchain): Record<string, string> {
  const home = path.join(dir, "home");
  const backend = path.join(dir, "backend");
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(backend, { recursive: true });
  const env: Record<string, string> = {
    PULUMI_HOME: home,
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: LOCAL_PASSPHRASE,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
  const release = toolchain.versions.pulumiKubernetes.release;
  const installed = path.join(home, "plugins", `resource-kubernetes-v${release}`);
  if (!fs.existsSync(installed)) {
    const result = spawnSync(
      toolchain.pulumi,
      [
        "plugin",
        "install",
        "resource",
        "kubernetes",
        release,
        "--file",
        toolchain.kubernetesProvider,
      ],
      { env: { ...process.env, ...env }, encoding: "utf8" },
    );
    if (result.status !== 0) {
      throw new Error(`pulumi plugin install resource kubernetes failed: ${result.stderr}`);
    }
  }
  return env;
}
