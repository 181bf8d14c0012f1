import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export interface RequestContextData {
  correlationId: string;
  /** Set by a service that adopts a domain correlation id (e.g. a force sync's `force-sync-…`). */
  workflowCorrelationId?: string;
  /** Fields a handler adds to the request's one access log line (ids only, never content). */
  logFields?: Record<string, unknown>;
}

const storage = new AsyncLocalStorage<RequestContextData>();

const CORRELATION_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export const RequestContext = {
  run<T>(data: RequestContextData, fn: () => T): T {
    return storage.run(data, fn);
  },
  current(): RequestContextData | undefined {
    return storage.getStore();
  },
  correlationId(): string | undefined {
    return storage.getStore()?.correlationId;
  },
  /** Adds fields to the access log line of the request being served (no effect outside a request). */
  annotate(fields: Record<string, unknown>): void {
    const store = storage.getStore();
    if (store) store.logFields = { ...store.logFields, ...fields };
  },
};

/** A caller's correlation id is kept only when it is 1–128 characters of `[A-Za-z0-9._:-]`. */
export function acceptCorrelationId(value: unknown): string | null {
  return typeof value === 'string' && CORRELATION_ID_PATTERN.test(value) ? value : null;
}

/** `<prefix>-<epoch ms>-<base36 random>`, e.g. `force-sync-1732800000000-k3j9x2a1`. */
export function newCorrelationId(prefix: string): string {
  // 48 random bits from randomUUID, which draws from a cached entropy pool (randomBytes is a call per id).
  const uuid = randomUUID();
  const random = BigInt(`0x${uuid.slice(0, 8)}${uuid.slice(9, 13)}`).toString(36);
  return `${prefix}-${Date.now()}-${random}`;
}
