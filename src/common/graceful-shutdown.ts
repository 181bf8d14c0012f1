import type { Server } from 'node:http';
import { Injectable, Logger, type INestApplication, type OnApplicationShutdown } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** Whether the service is shutting down; readiness answers 503 from the first moment it is. */
@Injectable()
export class ShutdownState implements OnApplicationShutdown {
  private drainingSince: number | null = null;
  /** Set by `enableGracefulShutdown`: stops listening for signals once the app has closed. */
  detach: (() => void) | null = null;

  private readonly drainListeners: (() => void)[] = [];

  get draining(): boolean {
    return this.drainingSince !== null;
  }

  /** Calls `listener` once shutdown begins (e.g. to end answers that never finish by themselves: streams). */
  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  begin(): void {
    if (this.drainingSince !== null) return;
    this.drainingSince = Date.now();
    for (const listener of this.drainListeners.splice(0)) listener();
  }

  onApplicationShutdown(): void {
    this.detach?.();
    this.detach = null;
  }
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * SIGTERM (or SIGINT): readiness answers 503 at once; every answer from then on carries `Connection: close`, and
 * idle keep-alive connections are closed, so that clients move to another instance; requests in flight are
 * answered, for up to `graceMs`, after which the connections left are closed; once no request is in flight the
 * server stops listening. Then the app closes: the scheduler's jobs and the event processor finish what they are
 * doing (and start nothing new), calls to OPAL in flight are cut short and recorded, the pool closes (and the
 * embedded PostgreSQL stops); the process exits with code 0.
 */
export function enableGracefulShutdown(app: INestApplication, graceMs: number): void {
  const logger = new Logger('Shutdown');
  const state = app.get(ShutdownState);
  const server = app.getHttpServer() as Server;
  const inFlight = new Set<Response>();
  let allAnswered: (() => void) | null = null;
  server.on('request', (_req, res: Response) => {
    inFlight.add(res);
    res.once('close', () => {
      inFlight.delete(res);
      if (inFlight.size === 0) allAnswered?.();
    });
  });
  app.use((_req: Request, res: Response, next: NextFunction) => {
    if (state.draining) res.setHeader('Connection', 'close');
    next();
  });

  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    state.begin();
    logger.log({
      msg: 'Shutting down: answering the requests in flight',
      signal,
      in_flight: inFlight.size,
      grace_ms: graceMs,
    });
    // Answers already under way close their connection too (their headers are not sent yet).
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    server.closeIdleConnections();
    const drained = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), graceMs);
      allAnswered = () => {
        clearTimeout(timer);
        resolve(true);
      };
      if (inFlight.size === 0) allAnswered();
    });
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    if (!drained) {
      logger.warn({
        msg: 'Shutdown grace period over: closing the connections left',
        in_flight: inFlight.size,
      });
      server.closeAllConnections();
    }
    await closed;
    await app.close();
    logger.log({ msg: 'Shut down' });
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (state.draining) return;
    shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ msg: 'Shutdown failed', error });
        process.exit(1);
      },
    );
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  state.detach = () => {
    for (const signal of SIGNALS) process.removeListener(signal, onSignal);
  };
}
