// How the workers of a cluster (`lb --workers N`) get their connections: each on a listening
// socket of its own with SO_REUSEPORT, the kernel spreading new connections over them, where the
// Node.js line and the platform offer it; else node:cluster's way, the primary accepting every
// connection and handing it to a worker in turn. A pure function of the version, the platform and
// LB_ACCEPT, so that a test can ask it about any of them.

export interface AcceptMode {
  /** Each worker binds its own socket with `reusePort` (net.Server.listen). */
  reusePort: boolean;
  /** The INFO line the primary logs once at start: which way, and why not the other. */
  line: string;
}

/**
 * Node.js added `reusePort` to net.Server.listen in 23.1.0 and backported it to 22.12.0; on a
 * version before those it is an unknown option, silently ignored, and every worker but the first
 * would find the port in use.
 */
export function hasReusePort(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major === 22) return minor >= 12;
  if (major === 23) return minor >= 1;
  return major > 23;
}

/**
 * Where libuv sets SO_REUSEPORT with the kernel spreading connections (SO_REUSEPORT_LB on
 * FreeBSD) on every OS version those Node.js lines run on. libuv knows a few more (Solaris 11.4,
 * AIX 7.2.5) but only from some release of them: there the cluster's way is the safe one, since
 * `reusePort` where the OS lacks it makes listen fail.
 */
export const REUSEPORT_PLATFORMS: readonly string[] = ['linux', 'freebsd'];

/**
 * The way for Node.js `version` on `platform`; `forced` is LB_ACCEPT, whose value `cluster` keeps
 * node:cluster's way (to compare the two, or should the kernel's spreading not suit a host). Any
 * other value is named in the line as ignored, so that a typo does not pass for a choice.
 */
export function acceptMode(version: string, platform: string, forced: string | undefined): AcceptMode {
  const cluster = 'connections: the primary accepts them and hands each to a worker in turn (node:cluster)';
  if (forced === 'cluster') return { reusePort: false, line: `${cluster}, as LB_ACCEPT=cluster asks` };
  const ignored = forced === undefined || forced === '' ? '' : `; LB_ACCEPT=${forced} ignored (its one value is cluster)`;
  if (!hasReusePort(version)) return { reusePort: false, line: `${cluster}; Node.js ${version} has no reusePort (22.12 and 23.1 on have it)${ignored}` };
  if (!REUSEPORT_PLATFORMS.includes(platform)) return { reusePort: false, line: `${cluster}; SO_REUSEPORT is not used on ${platform}${ignored}` };
  return { reusePort: true, line: `connections: each worker accepts on a socket of its own (SO_REUSEPORT), the kernel spreads them${ignored}` };
}
