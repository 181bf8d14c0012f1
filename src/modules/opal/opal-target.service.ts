import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HmacService } from '../../common/hmac.service';
import { AppConfig } from '../../config/app-config';
import { WEBHOOK_PATH } from '../../domain/routes';
import { OpalSimulator } from './simulator/opal-simulator';

/**
 * Where triggers go: OPAL_WEBHOOK_URL, or, outside production when it is unset, the built-in simulator that
 * this service starts on 127.0.0.1 (a free port) and stops on shutdown.
 */
@Injectable()
export class OpalTargetService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('OpalSimulator');
  private simulatorInstance: OpalSimulator | null = null;
  private simulatorUrl: string | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly hmac: HmacService,
  ) {}

  get simulated(): boolean {
    return this.config.opal.webhookUrl === null;
  }

  /** The in-service simulator (null when triggers go to a real OPAL URL). Tests read its recorded triggers. */
  get simulator(): OpalSimulator | null {
    return this.simulatorInstance;
  }

  /** The URL a trigger is POSTed to. */
  url(): string {
    if (this.config.opal.webhookUrl !== null) return this.config.opal.webhookUrl;
    if (this.simulatorUrl === null) throw new Error('The OPAL simulator is not running');
    return this.simulatorUrl;
  }

  async onModuleInit(): Promise<void> {
    if (!this.simulated || this.config.isProduction) return;
    const simulator = new OpalSimulator({
      authKey: this.config.opal.authKey,
      hmac: this.hmac,
      callbackUrl: `${this.config.baseUrl}${WEBHOOK_PATH}`,
      agentDelayMs: this.config.simulator.agentDelayMs,
      failAgents: this.config.simulator.failAgents,
      triggerFailures: this.config.simulator.triggerFailures,
      host: '127.0.0.1',
      port: 0,
      log: (level, message, meta) => {
        const line = { msg: message, ...meta };
        if (level === 'error') this.logger.error(line);
        else if (level === 'warn') this.logger.warn(line);
        else this.logger.debug(line);
      },
    });
    this.simulatorUrl = await simulator.start();
    this.simulatorInstance = simulator;
    this.logger.log({ msg: 'Built-in OPAL simulator started (OPAL_WEBHOOK_URL is not set)' });
  }

  async onModuleDestroy(): Promise<void> {
    const simulator = this.simulatorInstance;
    if (simulator === null) return;
    this.simulatorInstance = null;
    this.simulatorUrl = null;
    await simulator.stop();
  }
}
