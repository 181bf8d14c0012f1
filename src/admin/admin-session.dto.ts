import { ApiProperty } from '@nestjs/swagger';

/** What the operator console needs to know before it asks for anything: whether operator routes need a key. */
export class AdminSessionDto {
  /**
   * `open` outside production when no `OPERATOR_API_KEYS` are configured (every operator route answers
   * without a key); `key_required` otherwise (`Authorization: Bearer <operator key>`).
   * @example "key_required"
   */
  @ApiProperty({ enum: ['open', 'key_required'], enumName: 'OperatorRoutesMode' })
  operator_routes: 'open' | 'key_required';
  /**
   * The service's `NODE_ENV`.
   * @example "development"
   */
  @ApiProperty({ enum: ['development', 'test', 'production'], enumName: 'NodeEnvironment' })
  environment: 'development' | 'test' | 'production';
}
