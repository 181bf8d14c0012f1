import type { Settings } from './settings';

/**
 * Injection token and type of the validated settings: `constructor(private readonly config: AppConfig)`, then
 * `this.config.opal.timeoutMs`. Built once at start by `AppConfigModule.forRoot(settings)`.
 */
export abstract class AppConfig {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface AppConfig extends Settings {}
