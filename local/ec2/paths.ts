/** Where the emulator keeps its state, image roots and instance folders under `<stateDir>/ec2/`. */
import { join, resolve } from "node:path";

export interface InstancePaths {
  dir: string;
  root: string;
  consoleLog: string;
  userData: string;
  shimDir: string;
  shutdownMarker: string;
}

export interface Ec2Paths {
  base: string;
  stateFile: string;
  imagesDir: string;
  instancesDir: string;
  imageRoot(imageId: string): string;
  imageDir(imageId: string): string;
  instance(instanceId: string): InstancePaths;
}

/** The layout under `<stateDir>/ec2/`, with absolute paths. */
export function ec2Paths(stateDir: string): Ec2Paths {
  const base = join(resolve(stateDir), "ec2");
  const imagesDir = join(base, "images");
  const instancesDir = join(base, "instances");
  return {
    base,
    stateFile: join(base, "state.json"),
    imagesDir,
    instancesDir,
    imageDir: (imageId) => join(imagesDir, imageId),
    imageRoot: (imageId) => join(imagesDir, imageId, "root"),
    instance: (instanceId) => {
      const dir = join(instancesDir, instanceId);
      return {
        dir,
        root: join(dir, "root"),
        consoleLog: join(dir, "console.log"),
        userData: join(dir, "user-data"),
        shimDir: join(dir, "shims"),
        shutdownMarker: join(dir, "shutdown-request"),
      };
    },
  };
}
