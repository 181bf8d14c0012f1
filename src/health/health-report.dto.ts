/** Terminus health report. */
export class HealthReportDto {
  /** `ok` when every check is up, `error` otherwise (HTTP 503), `degraded` when impaired but serving. */
  status: string;
  /** Checks that are up, by name (`database`, `event_processing`, `opal_configuration`, `migrations`). */
  info?: Record<string, Record<string, unknown>>;
  /** Checks that are down, by name. */
  error?: Record<string, Record<string, unknown>>;
  /** Every check, by name. */
  details: Record<string, Record<string, unknown>>;
}
