import { ApiServiceUnavailableResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from './error-response.dto';

/** Documents the 503 every write route answers while the service is in maintenance mode (contract section 14). */
export function ApiMaintenanceModeResponse(): MethodDecorator & ClassDecorator {
  return ApiServiceUnavailableResponse({
    description:
      'MAINTENANCE_MODE: write operations are paused (PUT /api/maintenance); retry after `Retry-After` seconds',
    type: ErrorResponseDto,
    headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } },
  });
}
