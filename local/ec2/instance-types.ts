/**
 * The instance types the emulator launches, with the vCPUs and memory that become the instance's
 * cgroup limits. Burstable types get their full vCPU count: a baseline share would make a local
 * service crawl without teaching anything about the deployment.
 */
export interface InstanceTypeSpec {
  vcpus: number;
  memoryMiB: number;
}

const burstableSizes: Record<string, InstanceTypeSpec> = {
  nano: { vcpus: 2, memoryMiB: 512 },
  micro: { vcpus: 2, memoryMiB: 1024 },
  small: { vcpus: 2, memoryMiB: 2048 },
  medium: { vcpus: 2, memoryMiB: 4096 },
  large: { vcpus: 2, memoryMiB: 8192 },
  xlarge: { vcpus: 4, memoryMiB: 16384 },
  "2xlarge": { vcpus: 8, memoryMiB: 32768 },
};

const generalPurposeSizes: Record<string, InstanceTypeSpec> = {
  large: { vcpus: 2, memoryMiB: 8192 },
  xlarge: { vcpus: 4, memoryMiB: 16384 },
  "2xlarge": { vcpus: 8, memoryMiB: 32768 },
};

const computeSizes: Record<string, InstanceTypeSpec> = {
  large: { vcpus: 2, memoryMiB: 4096 },
  xlarge: { vcpus: 4, memoryMiB: 8192 },
  "2xlarge": { vcpus: 8, memoryMiB: 16384 },
};

const families: Record<string, Record<string, InstanceTypeSpec>> = {
  t2: burstableSizes,
  t3: burstableSizes,
  t3a: burstableSizes,
  t4g: burstableSizes,
  m5: generalPurposeSizes,
  m6i: generalPurposeSizes,
  m7g: generalPurposeSizes,
  c5: computeSizes,
  c6i: computeSizes,
};

/** The default AWS uses when RunInstances names no type. */
export const DEFAULT_INSTANCE_TYPE = "m1.small";

/** The vCPUs and memory of a type, or undefined for a type the emulator does not offer. */
export function instanceTypeSpec(instanceType: string): InstanceTypeSpec | undefined {
  if (instanceType === DEFAULT_INSTANCE_TYPE) return { vcpus: 1, memoryMiB: 1740 };
  const [family, size] = instanceType.split(".");
  if (family === undefined || size === undefined) return undefined;
  return families[family]?.[size];
}
