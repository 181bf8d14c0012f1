import type { Express } from 'express';
import { routeOrder } from '../../src/common/route-order';
import type { TestApp } from './app';

/**
 * The path a controller route is served at (`/opal/sync` → `/api/opal/sync`; the index, metrics and the console
 * stay outside the prefix), read from the app's own route table rather than computed again here.
 */
export function servedPath(t: TestApp, controllerRoute: string): string {
  const served = routeOrder(t.app.getHttpAdapter().getInstance() as Express).map((r) => r.split(' ')[1]);
  const prefixed = `/api${controllerRoute === '/' ? '' : controllerRoute}`;
  if (served.includes(prefixed)) return prefixed;
  if (served.includes(controllerRoute)) return controllerRoute;
  throw new Error(`route ${controllerRoute} is not served`);
}
