import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { ApiSecurity, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { ROUTE_POLICY, type RoutePolicy } from '../../policy/policy';
import { WebhookSignatureGuard } from './webhook-signature.guard';

/** The Swagger security scheme of `X-OSA-Signature` (declared in openapi.ts). */
export const OSA_SIGNATURE_SECURITY_SCHEME = 'osa_signature';

/** The webhook receiver's policy: a valid `X-OSA-Signature` over the raw body, and no other credential. */
export function SignedWebhook(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(ROUTE_POLICY, 'signed-webhook' satisfies RoutePolicy),
    UseGuards(WebhookSignatureGuard),
    ApiSecurity(OSA_SIGNATURE_SECURITY_SCHEME),
    ApiUnauthorizedResponse({
      description: 'Missing, malformed, stale or wrong X-OSA-Signature (WEBHOOK_SIGNATURE_INVALID)',
      type: ErrorResponseDto,
    }),
  );
}
