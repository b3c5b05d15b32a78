// hello-service: a tiny HTTP service whose answer names its version, for Kiln demos and tests.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

const manifest = JSON.parse(readFileSync(new URL("./kiln.json", import.meta.url), "utf8"));
const host = process.env.HOST ?? "0.0.0.0";
const port = Number(process.env.PORT ?? manifest.port);
const startedAt = new Date().toISOString();

const server = createServer((request, response) => {
  if (request.url === "/health") {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ status: "ok", version: manifest.version }));
    return;
  }
  if (request.url === "/") {
    response.writeHead(200, { "content-type": "text/plain" });
    response.end(`hello from ${manifest.service} ${manifest.version}\n`);
    return;
  }
  response.writeHead(404, { "content-type": "text/plain" });
  response.end("not found\n");
});

server.listen(port, host, () =>
  console.log(`${manifest.service} ${manifest.version} listening on ${host}:${port} since ${startedAt}`),
);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
