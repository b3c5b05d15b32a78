/**
 * The local DynamoDB's engine thread: dynalite and its LevelDB store, serving HTTP on
 * 127.0.0.1. It runs on a worker thread of its own so that its request parsing, validation and
 * LevelDB work run beside the other emulators and the functions rather than queueing with them
 * on the local cloud's event loop. Plain CommonJS: a worker runs outside any TypeScript loader.
 *
 * workerData: { path, port }. Posts { url } once listening, or { error: { message, code } }.
 * On the message "close" it closes the server and its store, then the thread ends.
 */
const { parentPort, workerData } = require("node:worker_threads");
const dynalite = require("dynalite");

// Tables are ACTIVE at once: AWS takes seconds, but nothing in Kiln waits on table status.
const server = dynalite({ path: workerData.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });

server.once("error", (error) => {
  parentPort.postMessage({ error: { message: error.message, code: error.code } });
  parentPort.close();
});
server.once("listening", () => {
  parentPort.postMessage({ url: `http://127.0.0.1:${server.address().port}` });
});
server.listen(workerData.port, "127.0.0.1");

parentPort.on("message", (message) => {
  if (message !== "close") return;
  // Idle keep-alive connections end now; connections mid-request get a moment, then are cut.
  const cut = setTimeout(() => server.closeAllConnections(), 2000);
  // dynalite's close also closes its LevelDB store, which another start needs unlocked.
  server.close(() => {
    clearTimeout(cut);
    parentPort.close();
  });
  server.closeIdleConnections();
});
