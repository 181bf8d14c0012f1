import { Global, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { AnalyticsReader } from './analytics-reader';
import { buildDataSourceOptions, runMigrationsLocked } from './data-source-options';
import { DATABASE_ENTITIES } from './replica-heartbeat.entity';
import { EmbeddedDatabase } from './embedded-database';

/** Owns the embedded PostgreSQL (when DATABASE_URL is unset) and stops it after the pool has closed. */
@Injectable()
export class DatabaseRuntime implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private embedded: EmbeddedDatabase | null = null;
  private dataSource: DataSource | null = null;

  constructor(private readonly config: AppConfig) {}

  async connectionUrl(): Promise<string> {
    if (this.config.databaseUrl) return this.config.databaseUrl;
    if (this.config.isProduction) throw new Error('DATABASE_URL is required in production');
    this.embedded = new EmbeddedDatabase({
      dataDir: this.config.dataDir,
      databaseName: 'opal_force_sync',
      log: (message) => this.logger.warn(message),
    });
    const url = await this.embedded.start();
    this.logger.log(`Embedded PostgreSQL started (cluster in ${this.embedded.clusterDir})`);
    return url;
  }

  attach(dataSource: DataSource): void {
    this.dataSource = dataSource;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource?.isInitialized) await this.dataSource.destroy();
    if (this.embedded) {
      await this.embedded.stop();
      this.logger.log('Embedded PostgreSQL stopped');
    }
  }
}

@Module({ providers: [DatabaseRuntime], exports: [DatabaseRuntime] })
class DatabaseRuntimeModule {}

@Global()
@Module({
  imports: [
    DatabaseRuntimeModule,
    TypeOrmModule.forRootAsync({
      imports: [DatabaseRuntimeModule],
      inject: [AppConfig, DatabaseRuntime],
      useFactory: async (config: AppConfig, runtime: DatabaseRuntime) => ({
        ...buildDataSourceOptions({ url: await runtime.connectionUrl(), poolSize: config.dbPoolSize }),
        // Each owning module registers its entities (TypeOrmModule.forFeature).
        autoLoadEntities: true,
      }),
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options!).initialize();
        await runMigrationsLocked(dataSource, () =>
          new Logger('Database').log('Another instance is applying migrations: waiting for it'),
        );
        return dataSource;
      },
    }),
    TypeOrmModule.forFeature(DATABASE_ENTITIES),
  ],
  providers: [AnalyticsReader],
  exports: [AnalyticsReader],
})
export class DatabaseModule {
  constructor(runtime: DatabaseRuntime, dataSource: DataSource) {
    runtime.attach(dataSource);
  }
}
