/** The one error body of the contract, for every status code. */
export class ErrorResponseDto {
  /** Always false. */
  success: false;
  /**
   * Short title, e.g. `Bad Request`.
   * @example "Bad Request"
   */
  error: string;
  /**
   * Machine code in UPPER_SNAKE, e.g. `VALIDATION_FAILED`.
   * @example "VALIDATION_FAILED"
   */
  code: string;
  /**
   * What went wrong, for a person.
   * @example "Request validation failed"
   */
  message: string;
  /**
   * Field-level problems or related ids.
   * @example [{"field":"sync_scope","message":"sync_scope must be one of the following values: priority_platforms, all_platforms, odp_only, content_platforms"}]
   */
  details?: Record<string, unknown>[];
  /**
   * The request's correlation id (also in the `X-Correlation-ID` header).
   * @example "req-1732800000000-a1b2c3"
   */
  correlation_id: string;
}
