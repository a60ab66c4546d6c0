// The kubelet for Tekton's TaskRun Pods, played on this machine: each new Pod's step scripts are
// read back from the Pod as Tekton wrote them (the place-scripts init container carries each
// script base64-encoded), run as local processes with the Pod's environment and its volumes
// mapped to local folders (one folder per PersistentVolumeClaim, so a workspace outlives the Pod
// as a claim does; Secrets and ConfigMaps written there from the API server, as the kubelet
// projects them, so a step finds the code its ConfigMap ships), and the outcome written into the Pod's status as the kubelet and Tekton's
// entrypoint would: each step container terminated with its exit code, the Task's results in the
// termination message. Tekton's controller then moves the PipelineRun on.
import * as fs from "fs";
import * as path from "path";
import type { ControlPlane } from "../../toolchain/controlPlane";
import { KeyToPath, writeConfigMapVolume } from "../../test/support/configMapVolume";
import { inform, Kube, KubeObject } from "./kube";
import { runCommand } from "./realTier";

interface Container {
  readonly name: string;
  readonly args?: string[];
  readonly env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
  }[];
  readonly volumeMounts?: { name: string; mountPath: string }[];
}
interface Volume {
  readonly name: string;
  readonly persistentVolumeClaim?: { claimName: string };
  readonly secret?: { secretName: string; items?: KeyToPath[] };
  readonly configMap?: { name: string; items?: KeyToPath[] };
}
export interface PodSpec {
  readonly serviceAccountName?: string;
  readonly initContainers?: Container[];
  readonly containers: Container[];
  readonly volumes?: Volume[];
}
export type Pod = KubeObject & { spec: PodSpec };

/** One step as the Pod runs it: its script and its environment, as Tekton resolved them. */
export interface PodStep {
  /** The Task's step name (the container is `step-<name>`). */
  readonly name: string;
  readonly script: string;
  readonly env: Record<string, string>;
  readonly mounts: Record<string, string>;
}

/** The Pod's steps: scripts decoded from the place-scripts init container, env from each container. */
export function podSteps(pod: Pod): PodStep[] {
  const placeScripts = (pod.spec.initContainers ?? []).find((c) => c.name === "place-scripts");
  const program = placeScripts?.args?.[1] ?? "";
  const scripts = new Map<string, string>();
  const heredoc =
    /scriptfile="([^"]+)"\n[^\n]*\ncat > \$\{scriptfile\} << '_EOF_'\n([\s\S]*?)\n_EOF_\n/g;
  for (const match of program.matchAll(heredoc)) {
    scripts.set(match[1], Buffer.from(match[2], "base64").toString("utf8"));
  }
  return pod.spec.containers
    .filter((c) => c.name.startsWith("step-"))
    .map((container) => {
      const args = container.args ?? [];
      const file = args[args.indexOf("-entrypoint") + 1];
      const script = scripts.get(file);
      if (script === undefined) {
        throw new Error(
          `${pod.metadata.name}/${container.name}: no script ${file} in place-scripts`,
        );
      }
      const env: Record<string, string> = {};
      for (const variable of container.env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        // The API omits an empty value; the kubelet sets the variable to "".
        env[variable.name] =
          ref !== undefined ? `secret:${ref.name}/${ref.key}` : (variable.value ?? "");
      }
      const mounts = Object.fromEntries(
        (container.volumeMounts ?? []).map((m) => [m.mountPath, m.name]),
      );
      return { name: container.name.slice("step-".length), script, env, mounts };
    });
}

export interface StepOutcome {
  readonly step: string;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface PodRun {
  readonly pod: Pod;
  readonly steps: PodStep[];
  readonly outcomes: StepOutcome[];
  readonly results: Record<string, string>;
}

export interface KubeletOptions {
  readonly kube: Kube;
  readonly plane: ControlPlane;
  readonly namespace: string;
  /** The folder under which Pods' volumes and results live. */
  readonly root: string;
  /** Folder prepended to PATH: the stand-in tools (git, buildah). */
  readonly toolsDir: string;
  /** Environment a real kubelet adds: the API server's address, the token's file. */
  readonly extraEnv: (pod: Pod) => Record<string, string>;
  readonly maxSeconds?: number;
}

export interface Kubelet {
  readonly runs: PodRun[];
  readonly errors: string[];
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

/** Starts playing the kubelet for the TaskRun Pods of `namespace`. */
export function playKubelet(options: KubeletOptions): Kubelet {
  const { kube, plane, namespace, root } = options;
  const runs: PodRun[] = [];
  const errors: string[] = [];
  const pods = `/api/v1/namespaces/${namespace}/pods`;
  const selector = `labelSelector=${encodeURIComponent("tekton.dev/taskRun")}`;

  /** The local folder for a mount path of `pod`: claims are shared, the rest are the Pod's. */
  const localFolders = async (pod: Pod, step: PodStep): Promise<Map<string, string>> => {
    const folders = new Map<string, string>();
    for (const [mountPath, volumeName] of Object.entries(step.mounts)) {
      const volume = (pod.spec.volumes ?? []).find((v) => v.name === volumeName);
      const claim = volume?.persistentVolumeClaim?.claimName;
      const dir =
        claim !== undefined
          ? path.join(root, "claims", claim)
          : path.join(root, "pods", pod.metadata.name, volumeName);
      fs.mkdirSync(dir, { recursive: true });
      if (volume?.secret !== undefined) {
        const secret = (await kube.ok(
          "GET",
          `/api/v1/namespaces/${namespace}/secrets/${volume.secret.secretName}`,
        )) as { data?: Record<string, string> };
        const data = secret.data ?? {};
        const items = volume.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
        for (const item of items) {
          fs.writeFileSync(path.join(dir, item.path), Buffer.from(data[item.key] ?? "", "base64"));
        }
      }
      if (volume?.configMap !== undefined) {
        const configMap = (await kube.ok(
          "GET",
          `/api/v1/namespaces/${namespace}/configmaps/${volume.configMap.name}`,
        )) as { data?: Record<string, string> };
        writeConfigMapVolume(configMap.data ?? {}, volume.configMap.items, dir);
      }
      folders.set(mountPath, dir);
    }
    return folders;
  };

  const run = async (pod: Pod): Promise<void> => {
    const steps = podSteps(pod);
    const outcomes: StepOutcome[] = [];
    let results: Record<string, string> = {};
    const startedAt = new Date();
    for (const step of steps) {
      const folders = await localFolders(pod, step);
      // Longest mount path first: /workspace/source before /workspace.
      const mountPaths = [...folders.keys()].sort((a, b) => b.length - a.length);
      const local = (value: string): string => {
        for (const mountPath of mountPaths) {
          if (value === mountPath || value.startsWith(`${mountPath}/`)) {
            return `${folders.get(mountPath)}${value.slice(mountPath.length)}`;
          }
        }
        return value;
      };
      const env: Record<string, string> = {};
      for (const [name, value] of Object.entries(step.env)) {
        if (value.startsWith("secret:")) {
          const [secretName, key] = value.slice("secret:".length).split("/");
          const read = await kube.request(
            "GET",
            `/api/v1/namespaces/${namespace}/secrets/${secretName}`,
          );
          const data = (read.body as { data?: Record<string, string> } | undefined)?.data ?? {};
          if (read.status === 200 && data[key] !== undefined) {
            env[name] = Buffer.from(data[key], "base64").toString("utf8");
          }
          continue; // optional and missing: the variable is absent, as in the Pod
        }
        env[name] = local(value);
      }
      const scriptFile = path.join(root, "pods", pod.metadata.name, `script-${step.name}`);
      fs.mkdirSync(path.dirname(scriptFile), { recursive: true });
      fs.writeFileSync(scriptFile, step.script, { mode: 0o755 });
      const home = path.join(root, "pods", pod.metadata.name, "home");
      fs.mkdirSync(home, { recursive: true });
      // In a process group of its own: the timeout stops what the step started too.
      const outcome = await runCommand(scriptFile, [], {
        cwd: home,
        env: {
          ...env,
          ...options.extraEnv(pod),
          HOME: home,
          PATH: `${options.toolsDir}:${process.env.PATH ?? ""}`,
        },
        timeoutMs: 120_000,
      });
      outcomes.push({ step: step.name, ...outcome });
      const resultsDir = folders.get("/tekton/results");
      if (resultsDir !== undefined) {
        results = Object.fromEntries(
          fs
            .readdirSync(resultsDir)
            .map((file) => [file, fs.readFileSync(path.join(resultsDir, file), "utf8")]),
        );
      }
      if (outcome.code !== 0) break;
    }
    runs.push({ pod, steps, outcomes, results });

    // The kubelet's report, with what Tekton's entrypoint leaves in the termination message.
    const failed = outcomes.some((o) => o.code !== 0);
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const started = startedAt.toISOString(); // Tekton parses StartedAt with milliseconds
    const containerStatuses = pod.spec.containers.map((container, index) => {
      const outcome = outcomes.find((o) => `step-${o.step}` === container.name);
      const last = index === pod.spec.containers.length - 1;
      const message = [
        ...(last ? Object.entries(results).map(([key, value]) => ({ key, value, type: 1 })) : []),
        { key: "StartedAt", value: started, type: 3 },
      ];
      const exitCode = outcome?.code ?? (failed ? 1 : 0);
      return {
        name: container.name,
        ready: false,
        restartCount: 0,
        image: "stand-in",
        imageID: "stand-in",
        started: false,
        state: {
          terminated: {
            exitCode,
            reason: exitCode === 0 ? "Completed" : "Error",
            message: JSON.stringify(message),
            startedAt: now,
            finishedAt: now,
          },
        },
      };
    });
    await kube.ok(
      "PATCH",
      `${pods}/${pod.metadata.name}/status`,
      {
        status: {
          phase: failed ? "Failed" : "Succeeded",
          startTime: now,
          containerStatuses,
        },
      },
      "application/merge-patch+json",
    );
  };

  const informer = inform(
    kube,
    plane,
    `${pods}?${selector}`,
    async (type, object) => {
      if (type !== "ADDED") return;
      const pod = object as Pod;
      await run(pod).catch((error: Error) => {
        throw new Error(`${pod.metadata.name}: ${error.message}`);
      });
    },
    {
      onError: (error) => errors.push(error.message),
      maxSeconds: options.maxSeconds,
    },
  );

  return {
    runs,
    errors,
    ready: informer.ready,
    stop: () => informer.stop(),
  };
}
