/**
 * Keeps the emulator's state in `<stateDir>/autoscaling/state.json`, written atomically
 * (temporary file, then rename) so a crash mid-write never leaves half a file behind.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type AutoScalingState, autoScalingStateSchema } from "./state.ts";

/** Activities kept per group; AWS keeps six weeks of them, a laptop needs fewer. */
const activitiesKeptPerGroup = 500;

export class StateStore {
  private readonly file: string;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  private constructor(
    dir: string,
    readonly state: AutoScalingState,
    private readonly onError: (error: unknown) => void,
  ) {
    this.file = join(dir, "state.json");
  }

  /** Loads the saved state, or starts empty when there is none. */
  static async open(stateDir: string, onError: (error: unknown) => void): Promise<StateStore> {
    const dir = join(stateDir, "autoscaling");
    await mkdir(dir, { recursive: true });
    let text: string | undefined;
    try {
      text = await readFile(join(dir, "state.json"), "utf8");
    } catch (error) {
      if (!(error instanceof Error && "code" in error && error.code === "ENOENT")) throw error;
    }
    const state =
      text === undefined
        ? { groups: [], refreshes: [], activities: [] }
        : autoScalingStateSchema.parse(JSON.parse(text));
    return new StateStore(dir, state, onError);
  }

  /**
   * Writes the current state; writes requested while one runs are coalesced. A failed write is
   * reported to `onError` and never rejects: the emulator keeps serving, and the next save retries.
   */
  save(): Promise<void> {
    this.dirty = true;
    this.writing = this.writing.then(() => this.flush()).catch(this.onError);
    return this.writing;
  }

  private async flush(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    this.trimActivities();
    const temporary = `${this.file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(this.state, null, 2)}\n`);
    await rename(temporary, this.file);
  }

  private trimActivities(): void {
    const counts = new Map<string, number>();
    // Activities are kept newest first; the oldest beyond the limit of their group go.
    this.state.activities = this.state.activities.filter((activity) => {
      const seen = (counts.get(activity.groupName) ?? 0) + 1;
      counts.set(activity.groupName, seen);
      return seen <= activitiesKeptPerGroup;
    });
  }
}
