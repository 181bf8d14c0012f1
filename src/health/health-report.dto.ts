/** Terminus health report. */
export class HealthReportDto {
  /**
   * `ok` when every check is up, `error` otherwise (HTTP 503), `degraded` when impaired but serving.
   * @example "ok"
   */
  status: string;
  /**
   * Checks that are up, by name (`database`, `event_processing`, `opal_configuration`, `migrations`).
   * @example {"database":{"status":"up"},"migrations":{"status":"up"}}
   */
  info?: Record<string, Record<string, unknown>>;
  /**
   * Checks that are down, by name.
   * @example {}
   */
  error?: Record<string, Record<string, unknown>>;
  /**
   * Every check, by name.
   * @example {"database":{"status":"up"},"migrations":{"status":"up"}}
   */
  details: Record<string, Record<string, unknown>>;
}
