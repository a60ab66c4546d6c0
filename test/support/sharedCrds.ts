// The CRD catalog for tests: loaded once per mocha run (it takes about a second), skipped with
// a message when the directory is missing, and never skipped in CI.
import * as fs from "fs";
import { CrdCatalog } from "../../conformance/crdValidator";
import { crdsDirectory } from "../../conformance/stackConformance";
import { skipOrFailInCi } from "./skip";

export const CRDS_DIR = crdsDirectory();

let catalog: CrdCatalog | undefined;

export function sharedCatalog(context: Mocha.Context): CrdCatalog {
  if (!fs.existsSync(CRDS_DIR)) {
    const message =
      `CRD directory ${CRDS_DIR} is missing: set CANARY_CRDS_DIR to a directory of CRD YAML ` +
      `files (the upstream CRDs of ../shared/crds, or the output of kubectl get crd -o yaml)`;
    skipOrFailInCi(context, message);
  }
  catalog ??= CrdCatalog.fromDirectory(CRDS_DIR);
  return catalog;
}
