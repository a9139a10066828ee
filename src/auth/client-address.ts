import { isIPv4, isIPv6 } from 'node:net';

/**
 * The unit a client address is counted in: an IPv4 address as it is, an IPv6 address by its /64 network (one
 * subscriber usually holds a whole /64, so counting single IPv6 addresses would give each client billions of
 * fresh counters), an IPv4-mapped IPv6 address as the IPv4 address. Anything else (a Unix socket, a name) as given.
 * @internal
 */
export function addressBucket(address: string): string {
  const text = address.trim().toLowerCase();
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zoneless = bare.split('%')[0];
  if (zoneless.startsWith('::ffff:') && isIPv4(zoneless.slice(7))) return zoneless.slice(7);
  if (!isIPv6(zoneless)) return text;
  return `${ipv6Groups(zoneless).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, as lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const groupsOf = (part: string): string[] => {
    if (part === '') return [];
    const pieces = part.split(':');
    const last = pieces[pieces.length - 1];
    if (isIPv4(last)) {
      const [a, b, c, d] = last.split('.').map(Number);
      pieces.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
    }
    return pieces.map((g) => parseInt(g, 16).toString(16));
  };
  const [head, tail] = address.split('::');
  const first = groupsOf(head);
  if (tail === undefined) return first;
  const last = groupsOf(tail);
  return [...first, ...Array<string>(8 - first.length - last.length).fill('0'), ...last];
}
