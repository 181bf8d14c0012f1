/**
 * Route paths spelled once. Controllers declare their path without the global `api` prefix (which
 * `configureApp` sets); everything that needs a full path (body limits, callback URLs, links) builds it here.
 */
export const API_PREFIX = 'api';

/** The receiver of OPAL's signed callbacks, relative to the API prefix. */
export const WEBHOOK_ROUTE = 'webhooks/opal-workflow';

/** The receiver's full path: `/api/webhooks/opal-workflow`. */
export const WEBHOOK_PATH = `/${API_PREFIX}/${WEBHOOK_ROUTE}`;

/** Paths served outside the API prefix: the index, the Prometheus scrape, the docs and the operator console. */
export const UNPREFIXED_PATHS = ['/', 'metrics', 'favicon.ico', 'admin', 'admin/{*path}'] as const;

/** Where one workflow is read (`GET`), as answered in `status_url`. */
export function syncStatusPath(syncId: string): string {
  return `/${API_PREFIX}/opal/sync/${syncId}`;
}
