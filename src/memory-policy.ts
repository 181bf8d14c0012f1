import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the old generation grow past the live heap before a full collection: 50 means 1.5×. By
 * default V8 lets it grow to about 2.5× under a steady request load (the heap is mostly garbage from requests
 * already answered), which took the service from ~135 MB at start to ~260 MB under the benchmark's bursts; at
 * 1.5× it peaks around 170 MB, with no throughput cost the benchmark can measure (full collections are
 * incremental and concurrent).
 */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Node flags the service is started with (Dockerfile, Kubernetes, `npm start`, the benchmark and the tests that
 * start the built service): a 32 MB young generation semi-space instead of V8's 16 MB. Requests allocate heavily
 * and briefly; with the larger nursery fewer of their objects survive into the old generation, which took the
 * service's CPU per stored webhook down by about a tenth in the benchmark, for about 30 MB more at peak. It cannot
 * be set from inside the process (V8 sizes the young generation when it starts), so it is a command-line flag; a
 * start without it only loses that gain.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];

/** Called first thing in main.ts; V8 reads the flag whenever it sets the next collection's limit. */
export function applyMemoryPolicy(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
