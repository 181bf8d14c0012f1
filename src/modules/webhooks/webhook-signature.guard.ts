import { Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { AppError } from '../../common/app-error';
import type { RequestWithBody } from '../../common/http-pipeline';
import { SIGNATURE_HEADER, verifySignature, type SignatureFailure } from '../../common/signature';
import { AppConfig } from '../../config/app-config';

/** The receiver's request: the guard leaves the failure reason for the rejection record (never the answer). */
export interface WebhookRequest extends RequestWithBody {
  signatureFailure?: SignatureFailure;
}

/** Every failure gets the same answer, so it does not tell a caller which check to work around. */
export const SIGNATURE_INVALID_MESSAGE = 'Webhook signature verification failed';

/**
 * Verifies `X-OSA-Signature` over the raw body bytes with the configured secret(s) (two during a rotation).
 * There is deliberately no setting that turns this off.
 */
@Injectable()
export class WebhookSignatureGuard implements CanActivate {
  private readonly logger = new Logger('WebhookSignature');

  constructor(private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<WebhookRequest>();
    const header = req.headers[SIGNATURE_HEADER];
    const result = verifySignature({
      header: typeof header === 'string' ? header : undefined,
      rawBody: req.rawBody ?? Buffer.alloc(0),
      secrets: this.config.webhook.secrets,
      nowMs: Date.now(),
      toleranceSeconds: this.config.webhook.toleranceSeconds,
    });
    if (result.ok) return true;
    req.signatureFailure = result.reason;
    this.logger.warn({ msg: 'Webhook signature rejected', reason: result.reason, client_ip: req.ip });
    throw new AppError('WEBHOOK_SIGNATURE_INVALID', SIGNATURE_INVALID_MESSAGE);
  }
}
