import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto';
import { OperatorAuthGuard } from './operator-auth.guard';

/** Every route declares exactly one of these; a test fails on a route that declares none. */
export type RoutePolicy = 'operator' | 'signed-webhook' | 'public';
export const ROUTE_POLICY = 'route_policy';
export const OPERATOR_SECURITY_SCHEME = 'operator';

/** Operator routes: `Authorization: Bearer <one of OPERATOR_API_KEYS>`. */
export function OperatorAuth(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(ROUTE_POLICY, 'operator' satisfies RoutePolicy),
    UseGuards(OperatorAuthGuard),
    ApiBearerAuth(OPERATOR_SECURITY_SCHEME),
    ApiUnauthorizedResponse({ description: 'Missing or invalid operator key', type: ErrorResponseDto }),
  );
}

/** Public routes: health, metrics, docs. They reveal no data. */
export function Public(): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(ROUTE_POLICY, 'public' satisfies RoutePolicy), ApiSecurity({}));
}
