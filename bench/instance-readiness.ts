/**
 * When each local instance's service began to listen, seen from outside the emulators: every
 * instance writes its console to `<stateDir>/ec2/instances/<id>/console.log`, and the example
 * service prints "listening on <host>:<port>" from its listen callback. Watching those files
 * (inotify) timestamps the moment a canary became able to answer its health check, without
 * adding a single request to the endpoints being measured.
 */
import { existsSync, type FSWatcher, readFileSync, watch } from "node:fs";
import { join } from "node:path";
import { ec2Paths } from "../local/ec2/paths.ts";

export interface InstanceReadiness {
  instanceId: string;
  /** When the console first said the service listens (epoch ms). */
  listeningAt?: number;
}

const listeningLine = /listening on \S+:\d+/;

/** Follows every instance's console under a local cloud's state folder. */
export class InstanceReadinessWatch {
  private readonly seen = new Map<string, InstanceReadiness>();
  private readonly watchers: FSWatcher[] = [];
  private readonly instancesDir: string;

  constructor(stateDir: string) {
    this.instancesDir = ec2Paths(stateDir).instancesDir;
  }

  start(): void {
    const top = watch(this.instancesDir, (_event, name) => {
      if (name?.startsWith("i-")) this.follow(name);
    });
    top.on("error", () => undefined);
    this.watchers.push(top);
  }

  /** When the instance's service began to listen, if it has. */
  listeningAt(instanceId: string): number | undefined {
    return this.seen.get(instanceId)?.listeningAt;
  }

  stop(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers.length = 0;
  }

  private follow(instanceId: string): void {
    if (this.seen.has(instanceId)) return;
    this.seen.set(instanceId, { instanceId });
    const dir = join(this.instancesDir, instanceId);
    if (!existsSync(dir)) return;
    try {
      const watcher = watch(dir, (_event, name) => {
        if (name === "console.log") this.check(instanceId);
      });
      watcher.on("error", () => undefined);
      this.watchers.push(watcher);
    } catch {
      // The folder went away (a terminated instance): nothing to follow.
    }
    this.check(instanceId);
  }

  private check(instanceId: string): void {
    const entry = this.seen.get(instanceId) ?? { instanceId };
    this.seen.set(instanceId, entry);
    if (entry.listeningAt !== undefined) return;
    let text: string;
    try {
      text = readFileSync(join(this.instancesDir, instanceId, "console.log"), "utf8");
    } catch {
      return;
    }
    if (listeningLine.test(text)) entry.listeningAt = Date.now();
  }
}
