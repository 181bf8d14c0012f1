import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MaintenanceController } from './maintenance.controller';
import { MaintenanceModeEntity } from './maintenance-mode.entity';
import { MaintenanceModeService } from './maintenance-mode.service';

/** The table this module owns. */
export const MAINTENANCE_ENTITIES = [MaintenanceModeEntity];

/**
 * Maintenance mode (contract section 14): owns `maintenance_mode`; `MaintenanceModeService` tells the write
 * routes, the event processor, the scheduler, diagnostics and metrics whether the service is paused.
 */
@Module({
  imports: [TypeOrmModule.forFeature(MAINTENANCE_ENTITIES)],
  controllers: [MaintenanceController],
  providers: [MaintenanceModeService],
  exports: [MaintenanceModeService],
})
export class MaintenanceModule {}
