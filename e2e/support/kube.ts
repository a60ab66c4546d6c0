// A minimal client of the local control plane's API, for tests that play the missing
// controllers and read back what the stack wrote. It verifies the API server's certificate
// and authenticates with a bearer token (the administrator's, or a ServiceAccount's).
import * as fs from "fs";
import * as https from "https";
import type { ControlPlane } from "../../toolchain/controlPlane";

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
    private readonly token: string = plane.adminToken,
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

  /** Like `request`, but a status outside 2xx is an error naming the call. */
  async ok(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
    const response = await this.request(method, path, body, contentType);
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

export type KubeObject = {
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
};
