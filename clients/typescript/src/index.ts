/**
 * Typed client of the OPAL Force Sync service, built on openapi-fetch with the types generated from
 * openapi.json (`npm run client:generate` rewrites schema.ts; never edit it by hand).
 *
 *   const api = createOpalForceSyncClient('https://force-sync.example.com', operatorKey);
 *   const { data, error } = await api.POST('/api/opal/sync', { body: { sync_scope: 'odp_only' } });
 *   await subscribeToSync(data!.sync_id, (frame) => show(frame.data), { baseUrl, operatorKey });
 */
import createClient from 'openapi-fetch';
import type { Client } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };
export { subscribeToSync, SyncStreamError, type SubscribeToSyncOptions, type SyncStreamFrame } from './live.js';
export type OpalForceSyncClient = Client<paths>;
export type Schemas = components['schemas'];

/** A client for one service instance; `operatorKey` (one of OPERATOR_API_KEYS) goes in every request. */
export function createOpalForceSyncClient(baseUrl: string, operatorKey?: string): OpalForceSyncClient {
  return createClient<paths>({
    baseUrl: baseUrl.replace(/\/+$/, ''),
    headers: operatorKey ? { Authorization: `Bearer ${operatorKey}` } : {},
  });
}
