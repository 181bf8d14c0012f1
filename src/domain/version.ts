/** The service version (User-Agent, index, OpenAPI). A unit test keeps it equal to package.json's. */
export const SERVICE_VERSION = '1.0.0';
