/** The one error body of the contract, for every status code. */
export class ErrorResponseDto {
  /** Always false. */
  success: false;
  /** Short title, e.g. `Bad Request`. */
  error: string;
  /** Machine code in UPPER_SNAKE, e.g. `VALIDATION_FAILED`. */
  code: string;
  /** What went wrong, for a person. */
  message: string;
  /** Field-level problems or related ids. */
  details?: Record<string, unknown>[];
  /** The request's correlation id (also in the `X-Correlation-ID` header). */
  correlation_id: string;
}
