/**
 * IP ranges as MetalLB reads them: a CIDR (`10.0.0.0/24`, `fd00::/120`) or a
 * `first-last` range, IPv4 or IPv6. Addresses are held as bigints so IPv6 ranges
 * compare exactly.
 *
 * @module
 */

import { ipaddr } from "../deps.ts";

/** An inclusive address range of one family. */
export interface IpRange {
  family: 4 | 6;
  start: bigint;
  end: bigint;
  /** As written. */
  text: string;
}

function toBigInt(addr: ipaddr.IPv4 | ipaddr.IPv6): bigint {
  let n = 0n;
  for (const byte of addr.toByteArray()) n = (n << 8n) | BigInt(byte);
  return n;
}

/** Formats an address of a family back to text. */
export function formatAddress(family: 4 | 6, value: bigint): string {
  const bytes: number[] = [];
  for (let i = 0; i < (family === 4 ? 4 : 16); i++) {
    bytes.unshift(Number(value & 0xffn));
    value >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const t = text.trim();
  // ipaddr.js accepts legacy forms such as "10.1" or octal; MetalLB (Go net.ParseIP) does not.
  if (ipaddr.IPv4.isValidFourPartDecimal(t)) return ipaddr.IPv4.parse(t);
  if (t.includes(":") && ipaddr.IPv6.isValid(t)) return ipaddr.IPv6.parse(t);
  return undefined;
}

/**
 * Parses a CIDR or `first-last` range; returns an error message saying what would be
 * valid when it cannot.
 *
 * @example
 * ```ts
 * parseRange("192.168.1.240-192.168.1.250"); // { family: 4, start: ..., end: ... }
 * parseRange("10.0.0.300/32"); // '"10.0.0.300/32" is not an IP range; use a CIDR or "first-last"'
 * ```
 */
export function parseRange(text: string): IpRange | string {
  const invalid = `${
    JSON.stringify(text)
  } is not an IP range; use a CIDR or "first-last"`;
  if (text.includes("/")) {
    const [addrText, bitsText, extra] = text.trim().split("/");
    const addr = parseAddress(addrText);
    const bits = /^\d{1,3}$/.test(bitsText ?? "") ? Number(bitsText) : NaN;
    if (extra !== undefined || !addr) return invalid;
    const family = addr.kind() === "ipv4" ? 4 : 6;
    const width = family === 4 ? 32 : 128;
    if (!(bits >= 0 && bits <= width)) {
      return `${
        JSON.stringify(text)
      }: prefix length must be 0..${width} for IPv${family}`;
    }
    const host = BigInt(width - bits);
    const start = (toBigInt(addr) >> host) << host;
    return { family, start, end: start + (1n << host) - 1n, text };
  }
  const parts = text.split("-");
  if (parts.length !== 2) return invalid;
  const first = parseAddress(parts[0]);
  const last = parseAddress(parts[1]);
  if (!first || !last) return invalid;
  if (first.kind() !== last.kind()) {
    return `${
      JSON.stringify(text)
    } mixes IPv4 and IPv6; both ends must be of one family`;
  }
  const start = toBigInt(first);
  const end = toBigInt(last);
  if (start > end) {
    return `${JSON.stringify(text)}: first address ${
      parts[0].trim()
    } is after last address ${
      parts[1].trim()
    }; write "first-last" with first <= last`;
  }
  return { family: first.kind() === "ipv4" ? 4 : 6, start, end, text };
}

/** True when two ranges share an address. */
export function overlaps(a: IpRange, b: IpRange): boolean {
  return a.family === b.family && a.start <= b.end && b.start <= a.end;
}

/** True when an address (text) lies in a range. */
export function contains(range: IpRange, address: string): boolean {
  const addr = parseAddress(address);
  if (!addr) return false;
  const family = addr.kind() === "ipv4" ? 4 : 6;
  const value = toBigInt(addr);
  return family === range.family && range.start <= value && value <= range.end;
}

/** Number of addresses in a range. */
export function size(range: IpRange): bigint {
  return range.end - range.start + 1n;
}
