// The real tier's tools from the command line:
//   npm run toolchain      find or build the binaries, say where each came from
//   npm run cluster:up     start the local control plane, write .e2e/env
//   npm run cluster:down   stop exactly what cluster:up started, remove its state
import * as fs from "fs";
import * as path from "path";
import { crdsDirectory } from "../conformance/stackConformance";
import { CONTEXT, startControlPlane, stopControlPlane } from "./controlPlane";
import { pulumiEnvironment } from "./pulumiHome";
import { cacheRoot, COMPONENTS, ensureToolchain, Toolchain } from "./toolchain";

const PROJECT_ROOT = path.resolve(__dirname, "..");
const STATE = path.join(PROJECT_ROOT, ".e2e");
const CLUSTER = path.join(STATE, "cluster");
const ENV_FILE = path.join(STATE, "env");

const say = (line: string): void => console.log(line);

function build(): Toolchain {
  const started = Date.now();
  // Everything the real tier runs, Tekton included.
  const toolchain = ensureToolchain((line) => say(`toolchain: ${line}`), process.env, COMPONENTS);
  say(`toolchain: ready in ${((Date.now() - started) / 1000).toFixed(1)} s (cache ${cacheRoot()})`);
  return toolchain;
}

async function up(): Promise<void> {
  const toolchain = build();
  const plane = await startControlPlane({
    dir: CLUSTER,
    toolchain,
    crdsDir: crdsDirectory(),
    log: (line) => say(`cluster: ${line}`),
  });
  const pulumi = pulumiEnvironment(path.join(STATE, "pulumi"), toolchain);
  const bins = [
    ...new Set(
      [toolchain.kubectl, toolchain.pulumi, toolchain.languageHost, toolchain.etcd].map((b) =>
        path.dirname(b),
      ),
    ),
  ];
  const lines = [
    "# Written by `npm run cluster:up`; `source .e2e/env` to use the local control plane:",
    "# kubectl and pulumi of the pinned versions, the kubeconfig (context canary-local), and a",
    "# Pulumi home and file backend of this checkout's own (its passphrase is for local state",
    "# only). `npm run cluster:down` stops the control plane and removes all of it.",
    `export KUBECONFIG=${plane.kubeconfig}`,
    `export PATH=${bins.join(":")}:$PATH`,
    ...Object.entries(pulumi).map(([key, value]) => `export ${key}=${value}`),
    "",
  ];
  fs.writeFileSync(ENV_FILE, lines.join("\n"), { mode: 0o600 });
  say(`cluster: ready: ${plane.server}, context ${CONTEXT}`);
  say("cluster: an API server without nodes or controllers: nothing runs or becomes Ready");
  say(`cluster: source ${path.relative(process.cwd(), ENV_FILE) || ENV_FILE}`);
}

function down(): void {
  const stopped = stopControlPlane(CLUSTER);
  fs.rmSync(STATE, { recursive: true, force: true });
  say(stopped.length > 0 ? `cluster: stopped ${stopped.join(", ")}` : "cluster: nothing running");
}

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case undefined:
    case "build":
      build();
      return;
    case "up":
      await up();
      return;
    case "down":
      down();
      return;
    default:
      throw new Error(`unknown command ${JSON.stringify(command)}: build, up or down`);
  }
}

if (require.main === module) {
  main(process.argv[2]).catch((error: Error) => {
    console.error(error.message);
    process.exit(1);
  });
}
