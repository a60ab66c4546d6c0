// A minimal client of the local control plane's API, for tests that play the missing
// controllers and read back what the stack wrote. It verifies the API server's certificate
// and authenticates with a bearer token (the administrator's, or a ServiceAccount's).
import * as fs from "fs";
import * as https from "https";
import type { ControlPlane } from "../../toolchain/controlPlane";
import { onLines } from "./lines";

export interface KubeResponse {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

export class Kube {
  private readonly ca: Buffer;
  private readonly url: URL;

  constructor(
    plane: ControlPlane,
    readonly token: string = plane.adminToken,
  ) {
    this.ca = fs.readFileSync(plane.caFile);
    this.url = new URL(plane.server);
  }

  /** One request; never throws for an HTTP status, only for a broken connection. */
  request(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<KubeResponse> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = https.request(
        {
          host: this.url.hostname,
          port: this.url.port,
          path,
          method,
          ca: this.ca,
          timeout: 15_000,
          headers: {
            Authorization: `Bearer ${this.token}`,
            Accept: "application/json",
            ...(payload !== undefined
              ? { "Content-Type": contentType, "Content-Length": Buffer.byteLength(payload) }
              : {}),
          },
        },
        (response) => {
          let text = "";
          response.on("data", (chunk: Buffer) => (text += chunk.toString()));
          response.on("end", () => {
            let parsed: unknown = undefined;
            try {
              parsed = text === "" ? undefined : JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            resolve({ status: response.statusCode ?? 0, body: parsed, text });
          });
        },
      );
      request.on("timeout", () => request.destroy(new Error(`${method} ${path}: timeout`)));
      request.on("error", reject);
      if (payload !== undefined) request.write(payload);
      request.end();
    });
  }

  /**
   * Like `request`, but a status outside 2xx is an error naming the call. A 429 (a fresh API
   * server says "storage is (re)initializing" for a new CRD's collection) is retried, up to 20
   * times, after the delay it asks for.
   */
  async ok(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
    let response = await this.request(method, path, body, contentType);
    for (let attempt = 0; response.status === 429 && attempt < 20; attempt++) {
      const details = (response.body as { details?: { retryAfterSeconds?: number } } | undefined)
        ?.details;
      await new Promise((resolve) => setTimeout(resolve, (details?.retryAfterSeconds ?? 1) * 1000));
      response = await this.request(method, path, body, contentType);
    }
    if (response.status < 200 || response.status > 299) {
      throw new Error(`${method} ${path}: ${response.status} ${response.text}`);
    }
    return response.body;
  }

  /** The items of a list (`/apis/.../ingresses`), across namespaces when the path says so. */
  async list(path: string): Promise<Record<string, unknown>[]> {
    const body = (await this.ok("GET", path)) as { items?: Record<string, unknown>[] };
    return body.items ?? [];
  }
}

/** A watch on one collection; `events` fills as the API server sends them. */
export interface Watch {
  readonly events: { type: string; object: KubeObject }[];
  stop(): void;
}

/**
 * Watches `path` (a collection, with a fieldSelector) from `resourceVersion` on: every change the
 * API server stores arrives as one event, whoever made it and however many requests it took.
 */
export function watch(
  kube: Kube,
  plane: ControlPlane,
  path: string,
  resourceVersion: string,
  onEvent?: (event: { type: string; object: KubeObject }) => void,
): Watch {
  const events: { type: string; object: KubeObject }[] = [];
  const url = new URL(plane.server);
  const separator = path.includes("?") ? "&" : "?";
  const request = https.get(
    {
      host: url.hostname,
      port: url.port,
      path: `${path}${separator}watch=1&resourceVersion=${resourceVersion}&allowWatchBookmarks=false`,
      ca: fs.readFileSync(plane.caFile),
      headers: { Authorization: `Bearer ${kube.token}`, Accept: "application/json" },
    },
    (response) =>
      onLines(response, (line) => {
        const event = JSON.parse(line) as { type: string; object: KubeObject };
        events.push(event);
        onEvent?.(event);
      }),
  );
  request.on("error", () => undefined);
  return { events, stop: () => request.destroy() };
}

export type KubeObject = {
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
};

/** A collection followed as a controller's informer follows it. */
export interface Informer {
  /** Resolves once the list is read and the watch started: what happens after, it sees. */
  readonly ready: Promise<void>;
  /** Stops the watch and resolves once every object handed out so far is handled. */
  stop(): Promise<void>;
}

/**
 * Lists `path`, then watches it from the list's resourceVersion, as an informer does; every
 * listed object (as ADDED) and every change is handed to `handle`, one at a time, in order.
 * A handler's error goes to `onError`. The watch stops when told, or by itself after
 * `maxSeconds` (default 600).
 */
export function inform(
  kube: Kube,
  plane: ControlPlane,
  path: string,
  handle: (type: string, object: KubeObject) => Promise<void> | void,
  options: { readonly onError: (error: Error) => void; readonly maxSeconds?: number },
): Informer {
  let queue: Promise<void> = Promise.resolve();
  let stream: Watch | undefined;
  let timer: NodeJS.Timeout | undefined;
  const enqueue = (type: string, object: KubeObject): void => {
    queue = queue.then(async () => {
      try {
        await handle(type, object);
      } catch (error) {
        options.onError(error as Error);
      }
    });
  };
  const ready = (async () => {
    const list = (await kube.ok("GET", path)) as {
      metadata: { resourceVersion: string };
      items: KubeObject[];
    };
    for (const item of list.items) enqueue("ADDED", item);
    stream = watch(kube, plane, path, list.metadata.resourceVersion, (event) =>
      enqueue(event.type, event.object),
    );
    timer = setTimeout(() => stream?.stop(), (options.maxSeconds ?? 600) * 1000);
    timer.unref();
  })();
  return {
    ready,
    async stop() {
      await ready;
      stream?.stop();
      clearTimeout(timer);
      await queue;
    },
  };
}
