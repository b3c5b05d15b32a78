/**
 * Private addresses on the loopback network: every 127.x.y.z answers locally on Linux, so each
 * instance binds its own address and several instances can serve the same port. 127.0.x.x is
 * left to the host. Each emulator starts allocating at an address derived from its state folder,
 * so emulators side by side (parallel test files, two local clouds) do not hand out the same one.
 */
import { createHash } from "node:crypto";
import { Ec2Error } from "./errors.ts";

const LOWEST = toNumber(127, 1, 0, 1);
const HIGHEST = toNumber(127, 255, 255, 254);

function toNumber(a: number, b: number, c: number, d: number): number {
  return a * 2 ** 24 + b * 2 ** 16 + c * 2 ** 8 + d;
}

function toAddress(value: number): string {
  return [
    Math.floor(value / 2 ** 24),
    Math.floor(value / 2 ** 16) % 256,
    Math.floor(value / 2 ** 8) % 256,
    value % 256,
  ].join(".");
}

/** Where an emulator with this state folder starts allocating: `127.<1-255>.<0-255>.1`. */
export function firstAddressFor(stateDir: string): number {
  const digest = createHash("sha256").update(stateDir).digest();
  return toNumber(127, 1 + ((digest[0] ?? 0) % 255), digest[1] ?? 0, 1);
}

/** Allocates the next free address from `first` upward (wrapping round), recording it in `allocations`. */
export function allocatePrivateIp(
  allocations: Record<string, string>,
  instanceId: string,
  first: number,
): string {
  const span = HIGHEST - LOWEST + 1;
  for (let offset = 0; offset < span; offset += 1) {
    const value = LOWEST + ((first - LOWEST + offset) % span);
    const lastOctet = value % 256;
    if (lastOctet === 0 || lastOctet === 255) continue;
    const address = toAddress(value);
    if (allocations[address] === undefined) {
      allocations[address] = instanceId;
      return address;
    }
  }
  throw new Ec2Error(
    "InsufficientFreeAddressesInSubnet",
    "No private addresses are left on the loopback network",
  );
}

/** Returns an instance's address to the pool. */
export function releasePrivateIp(allocations: Record<string, string>, address: string | undefined): void {
  if (address !== undefined) delete allocations[address];
}
