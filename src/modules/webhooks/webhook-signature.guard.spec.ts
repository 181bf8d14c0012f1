import type { ExecutionContext } from '@nestjs/common';
import { AppError } from '../../common/app-error';
import { buildSignatureHeader } from '../../common/signature';
import { HmacService } from '../../common/hmac.service';
import {
  SIGNATURE_INVALID_MESSAGE,
  WebhookSignatureGuard,
  type WebhookRequest,
} from './webhook-signature.guard';

const SECRET_A = 'unit-secret-a-0123456789abcdef0123456789';
const SECRET_B = 'unit-secret-b-0123456789abcdef0123456789';
const BODY = '{"event_type":"workflow_started","workflow_id":"wf-1"}';

function guardWith(secrets: string[], toleranceSeconds = 300): WebhookSignatureGuard {
  return new WebhookSignatureGuard(new HmacService({ secrets, toleranceSeconds }));
}

function contextFor(
  signature: string | undefined,
  body: string = BODY,
): {
  ctx: ExecutionContext;
  req: WebhookRequest;
} {
  const req = {
    headers: signature === undefined ? {} : { 'x-osa-signature': signature },
    rawBody: Buffer.from(body, 'utf8'),
    ip: '127.0.0.1',
    is: () => 'application/json',
  } as unknown as WebhookRequest;
  const ctx = { switchToHttp: () => ({ getRequest: () => req }) } as unknown as ExecutionContext;
  return { ctx, req };
}

async function rejection(guard: WebhookSignatureGuard, ctx: ExecutionContext): Promise<AppError> {
  try {
    await guard.canActivate(ctx);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected the guard to refuse');
}

describe('WebhookSignatureGuard', () => {
  it('lets a correctly signed body through, decoded', async () => {
    const { ctx, req } = contextFor(buildSignatureHeader(SECRET_A, BODY));
    await expect(guardWith([SECRET_A]).canActivate(ctx)).resolves.toBe(true);
    expect(req.signatureFailure).toBeUndefined();
    expect(req.body).toEqual(JSON.parse(BODY));
  });

  it('verifies the raw bytes, not a re-serialisation of them', async () => {
    const spaced = '{ "event_type": "workflow_started", "workflow_id": "wf-1" }';
    const { ctx } = contextFor(buildSignatureHeader(SECRET_A, BODY), spaced);
    expect((await rejection(guardWith([SECRET_A]), ctx)).code).toBe('WEBHOOK_SIGNATURE_INVALID');
  });

  it('accepts either secret during a rotation', async () => {
    const guard = guardWith([SECRET_A, SECRET_B]);
    await expect(guard.canActivate(contextFor(buildSignatureHeader(SECRET_A, BODY)).ctx)).resolves.toBe(true);
    await expect(guard.canActivate(contextFor(buildSignatureHeader(SECRET_B, BODY)).ctx)).resolves.toBe(true);
    const other = await rejection(
      guardWith([SECRET_A]),
      contextFor(buildSignatureHeader(SECRET_B, BODY)).ctx,
    );
    expect(other.code).toBe('WEBHOOK_SIGNATURE_INVALID');
  });

  it('uses the configured tolerance', async () => {
    const header = buildSignatureHeader(SECRET_A, BODY, Date.now() - 20_000);
    await expect(guardWith([SECRET_A], 30).canActivate(contextFor(header).ctx)).resolves.toBe(true);
    expect((await rejection(guardWith([SECRET_A], 10), contextFor(header).ctx)).code).toBe(
      'WEBHOOK_SIGNATURE_INVALID',
    );
  });

  it.each<[string, string | undefined, string]>([
    ['missing header', undefined, 'missing_header'],
    ['empty header', '', 'missing_header'],
    ['no v1 part', `t=${Date.now()}`, 'malformed_header'],
    ['not a timestamp', 'v1=abc,t=soon', 'invalid_timestamp'],
    ['t=0', `t=0,v1=${'0'.repeat(64)}`, 'invalid_timestamp'],
    ['stale', buildSignatureHeader(SECRET_A, BODY, Date.now() - 301_000), 'stale_timestamp'],
    ['future', buildSignatureHeader(SECRET_A, BODY, Date.now() + 120_000), 'future_timestamp'],
    [
      'wrong secret',
      buildSignatureHeader('another-secret-entirely-0123456789', BODY),
      'no_matching_signature',
    ],
  ])('%s: one answer whatever failed, the reason kept for the record', async (_name, header, reason) => {
    const { ctx, req } = contextFor(header);
    const error = await rejection(guardWith([SECRET_A]), ctx);
    expect(error.code).toBe('WEBHOOK_SIGNATURE_INVALID');
    expect(error.message).toBe(SIGNATURE_INVALID_MESSAGE);
    expect(error.details).toBeUndefined();
    expect(req.signatureFailure).toBe(reason);
  });

  it('refuses everything when no secret is configured (there is no switch that disables it)', async () => {
    const { ctx } = contextFor(buildSignatureHeader(SECRET_A, BODY));
    expect((await rejection(guardWith([]), ctx)).code).toBe('WEBHOOK_SIGNATURE_INVALID');
  });
});
