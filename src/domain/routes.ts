/**
 * Route paths spelled once. Controllers declare their path without the global `api` prefix (which
 * `configureApp` sets); everything that needs a full path (body limits, callback URLs, links) builds it here.
 */
export const API_PREFIX = 'api';

/** The receiver of OPAL's signed callbacks, relative to the API prefix. */
export const WEBHOOK_ROUTE = 'webhooks/opal-workflow';

/** The receiver's full path: `/api/webhooks/opal-workflow`. */
export const WEBHOOK_PATH = `/${API_PREFIX}/${WEBHOOK_ROUTE}`;

/** A route's full path: `apiPath('opal/sync')` is `/api/opal/sync`. */
export function apiPath(route: string): string {
  return `/${API_PREFIX}/${route}`;
}

/** Where one workflow is read (`GET`), as answered in `status_url`. */
export function syncStatusPath(syncId: string): string {
  return apiPath(`opal/sync/${syncId}`);
}

/** Where a bulk replay's progress is read (`GET`), as answered in `status_url`. */
export function replayStatusPath(replayId: string): string {
  return apiPath(`orchestrations/replay/${encodeURIComponent(replayId)}`);
}
