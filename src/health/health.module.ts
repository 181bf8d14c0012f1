import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { OpalModule } from '../modules/opal/opal.module';
import { HealthController } from './health.controller';
import { HealthIndicators } from './health.indicators';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), OpalModule],
  controllers: [HealthController],
  providers: [HealthIndicators],
})
export class HealthModule {}
