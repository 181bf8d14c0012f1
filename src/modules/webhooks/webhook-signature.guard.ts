import { Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { AppError } from '../../common/app-error';
import {
  decodeJsonBody,
  readRawBody,
  WEBHOOK_BODY_RULES,
  type RequestWithBody,
} from '../../common/http-pipeline';
import { HmacService } from '../../common/hmac.service';
import { SIGNATURE_HEADER, type SignatureFailure } from '../../common/signature';

/** The receiver's request: the guard leaves the failure reason for the rejection record (never the answer). */
export interface WebhookRequest extends RequestWithBody {
  signatureFailure?: SignatureFailure;
}

/** Every failure gets the same answer, so it does not tell a caller which check to work around. */
export const SIGNATURE_INVALID_MESSAGE = 'Webhook signature verification failed';

/**
 * The receiver's body, in this order and only after the route's rate limit (a global guard, so it runs first):
 * read the raw bytes (at most 1 MiB, never decompressed), verify `X-OSA-Signature` over them with the
 * configured secret(s) (two during a rotation), then decode them as JSON (`application/json` only). There is
 * deliberately no setting that turns verification off.
 */
@Injectable()
export class WebhookSignatureGuard implements CanActivate {
  private readonly logger = new Logger('WebhookSignature');

  constructor(private readonly hmac: HmacService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<WebhookRequest>();
    const rawBody = await readRawBody(req, WEBHOOK_BODY_RULES.limit);
    const header = req.headers[SIGNATURE_HEADER];
    const result = this.hmac.verify(typeof header === 'string' ? header : undefined, rawBody);
    if (!result.ok) {
      req.signatureFailure = result.reason;
      this.logger.warn({ msg: 'Webhook signature rejected', reason: result.reason, client_ip: req.ip });
      throw new AppError('WEBHOOK_SIGNATURE_INVALID', SIGNATURE_INVALID_MESSAGE);
    }
    req.body = decodeJsonBody(req, rawBody, WEBHOOK_BODY_RULES);
    return true;
  }
}
