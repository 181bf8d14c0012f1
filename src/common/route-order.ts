import type { Express } from 'express';

interface RouterLayer {
  route?: { path?: unknown; methods?: Record<string, boolean> };
}

/**
 * Express tries the routes in the order they were registered, one layer after the other; Nest registers them
 * in the order of its modules. This moves the routes of `paths` (the hot ones: OPAL's callbacks) in front of the
 * other routes, keeping the order of the middleware and of everything else, so that how fast the receiver is
 * matched does not depend on the order in which modules are imported. Call it once the routes are registered.
 * Answers how many route layers were moved in front.
 */
export function routeFirst(app: Express, paths: readonly string[]): number {
  const stack = (app as unknown as { router?: { stack?: RouterLayer[] } }).router?.stack;
  if (!stack) return 0;
  const isRoute = (layer: RouterLayer) => layer.route !== undefined;
  const isHot = (layer: RouterLayer) => isRoute(layer) && paths.includes(String(layer.route?.path));
  const firstRoute = stack.findIndex(isRoute);
  if (firstRoute === -1) return 0;
  const hot = stack.filter(isHot);
  const rest = stack.slice(firstRoute).filter((layer) => !isHot(layer));
  stack.splice(firstRoute, stack.length - firstRoute, ...hot, ...rest);
  return hot.length;
}

/**
 * `METHOD /path` of each route in matching order (for tests and diagnosis). The catch-all layers Nest adds
 * after the routes (every method of an excluded path answers 404) are left out.
 */
export function routeOrder(app: Express): string[] {
  const stack = (app as unknown as { router?: { stack?: RouterLayer[] } }).router?.stack ?? [];
  return stack.flatMap((layer) => {
    const methods = Object.keys(layer.route?.methods ?? {});
    return methods.length === 1 ? [`${methods[0].toUpperCase()} ${String(layer.route?.path)}`] : [];
  });
}
