// broken-service: starts and listens, but its health check always fails — a canary must stop it.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

const manifest = JSON.parse(readFileSync(new URL("./kiln.json", import.meta.url), "utf8"));
const host = process.env.HOST ?? "0.0.0.0";
const port = Number(process.env.PORT ?? manifest.port);

const server = createServer((request, response) => {
  const status = request.url === "/health" ? 500 : 200;
  response.writeHead(status, { "content-type": "text/plain" });
  response.end(status === 500 ? "database connection refused\n" : `broken ${manifest.version}\n`);
});

server.listen(port, host, () =>
  console.log(`${manifest.service} ${manifest.version} listening on ${host}:${port}`),
);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
