import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { httpHealthProbe } from "../../../core/aws/http-health-probe.ts";

/** A server answering `statuses` in turn (the last one from then on), or never for "hang". */
async function serve(
  first: number | "hang",
  ...then: Array<number | "hang">
): Promise<{ server: Server; url: string; served: () => number }> {
  const statuses = [first, ...then];
  let served = 0;
  const server = createServer((_, response) => {
    const status = statuses[Math.min(served++, statuses.length - 1)] ?? first;
    if (status !== "hang") response.writeHead(status).end();
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
  return { server, url, served: () => served };
}

/** A port nothing listens on: taken, then released. */
async function closedPort(): Promise<number> {
  const { server } = await serve(200);
  const { port } = server.address() as AddressInfo;
  await new Promise((closed) => server.close(closed));
  return port;
}

describe("httpHealthProbe", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((closed) => server.close(closed));
    }
  });

  it("answers healthy at the first 2xx, without retrying", async () => {
    const { server, url } = await serve(204);
    servers.push(server);

    expect(await httpHealthProbe.check(url, { timeoutMs: 1000, retryForMs: 5000 })).toEqual({
      healthy: true,
      detail: "answered 204",
      attempts: 1,
    });
  });

  it("retries an unhealthy service within the window and reports the GETs it took", async () => {
    const { server, url } = await serve(503, 503, 200);
    servers.push(server);

    expect(await httpHealthProbe.check(url, { timeoutMs: 1000, retryForMs: 5000 })).toEqual({
      healthy: true,
      detail: "answered 200",
      attempts: 3,
    });
  });

  it("finds a service that starts listening during the window", async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}/health`;
    const checked = httpHealthProbe.check(url, { timeoutMs: 1000, retryForMs: 10_000 });
    await new Promise((later) => setTimeout(later, 250));
    const server = createServer((_, response) => response.writeHead(200).end());
    servers.push(server);
    await new Promise<void>((listening) => server.listen(port, "127.0.0.1", listening));

    const verdict = await checked;

    expect(verdict.healthy).toBe(true);
    expect(verdict.attempts).toBeGreaterThan(1);
  });

  it("makes a single GET when there is no window, and says why it was unhealthy", async () => {
    const { server, url } = await serve(500);
    servers.push(server);
    const refused = `http://127.0.0.1:${await closedPort()}/health`;

    expect(await httpHealthProbe.check(url, { timeoutMs: 1000, retryForMs: 0 })).toEqual({
      healthy: false,
      detail: "answered 500",
      attempts: 1,
    });
    expect(await httpHealthProbe.check(refused, { timeoutMs: 1000, retryForMs: 0 })).toMatchObject({
      healthy: false,
      detail: expect.stringMatching(/^did not answer \(.*ECONNREFUSED/),
      attempts: 1,
    });
  });

  it("gives up when the window closes, with the last answer", async () => {
    const { server, url, served } = await serve(503);
    servers.push(server);

    const verdict = await httpHealthProbe.check(url, { timeoutMs: 1000, retryForMs: 350 });

    expect(verdict).toMatchObject({ healthy: false, detail: "answered 503" });
    expect(verdict.attempts).toBe(served());
  });

  it("waits each GET's own timeout for a service that accepts and never answers", async () => {
    const { server, url } = await serve("hang");
    servers.push(server);

    expect(await httpHealthProbe.check(url, { timeoutMs: 200, retryForMs: 0 })).toMatchObject({
      healthy: false,
      detail: expect.stringMatching(/^did not answer/),
      attempts: 1,
    });
  });
});
