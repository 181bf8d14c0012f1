import type { Settings } from './settings';

/**
 * Injection token and type of the validated settings: `constructor(private readonly config: AppConfig)`, then
 * `this.config.opal.timeoutMs`. Built once at start by `AppConfigModule.forRoot(settings)`.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class AppConfig {}
// The class is only a DI token; the interface gives it the Settings shape.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface AppConfig extends Settings {}
