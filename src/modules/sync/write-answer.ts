import type { Response } from 'express';
import type { IdempotentAnswer } from './idempotency.service';

/** Applies a service-decided status (200/202/…, or a replayed one) and returns the body for Nest to send. */
export function writeAnswer<T>(res: Response, answer: IdempotentAnswer<T>): T {
  res.status(answer.status);
  if (answer.replayed) res.setHeader('Idempotent-Replayed', 'true');
  return answer.body;
}
