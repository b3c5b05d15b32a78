import type { TaskCallbacks, Watcher, WatcherRegistry } from "../../core/ports.ts";

/** WatcherRegistry in memory, with the conditional claim of the DynamoDB adapter. */
export class InMemoryWatcherRegistry implements WatcherRegistry {
  readonly watchers = new Map<string, Watcher>();

  async put(resource: string, watcher: Watcher): Promise<void> {
    this.watchers.set(resource, structuredClone(watcher));
  }

  async get(resource: string): Promise<Watcher | undefined> {
    const watcher = this.watchers.get(resource);
    return watcher && structuredClone(watcher);
  }

  async claim(resource: string, taskToken: string): Promise<boolean> {
    if (this.watchers.get(resource)?.taskToken !== taskToken) return false;
    this.watchers.delete(resource);
    return true;
  }
}

/** TaskCallbacks that record what each token was answered with; tokens in `gone` have ended. */
export class RecordingTaskCallbacks implements TaskCallbacks {
  readonly answered: Array<{ taskToken: string; output: unknown }> = [];
  readonly gone = new Set<string>();

  async succeed(taskToken: string, output: unknown): Promise<boolean> {
    if (this.gone.has(taskToken)) return false;
    this.answered.push({ taskToken, output: structuredClone(output) });
    this.gone.add(taskToken);
    return true;
  }
}
