/** Where to go next: the service's name, version and links. */
export class ServiceIndexDto {
  /**
   * Service name.
   * @example "opal-force-sync"
   */
  name: string;
  /**
   * Service version.
   * @example "1.0.0"
   */
  version: string;
  /**
   * Links to the documentation, the OpenAPI document, health and metrics.
   * @example {"docs":"/docs","openapi":"/docs-json","health":"/api/health"}
   */
  links: Record<string, string>;
}
