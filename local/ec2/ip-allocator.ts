/**
 * Private addresses on the loopback network: every 127.x.y.z answers locally on Linux, so each
 * instance binds its own address and several instances can serve the same port. 127.0.0.1 is
 * the host's, so allocation starts at 127.0.1.1; network and broadcast-looking octets are skipped.
 */
import { Ec2Error } from "./errors.ts";

const FIRST = (127 << 24) | (0 << 16) | (1 << 8) | 1;
const LAST = (127 << 24) | (255 << 16) | (255 << 8) | 254;

function toAddress(value: number): string {
  return [(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

/** Allocates the lowest free address to `instanceId`, recording it in `allocations`. */
export function allocatePrivateIp(allocations: Record<string, string>, instanceId: string): string {
  for (let value = FIRST; value <= LAST; value += 1) {
    const lastOctet = value & 255;
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
