import { Module } from '@nestjs/common';
import { MaintenanceModule } from '../maintenance/maintenance.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { WorkflowsModule } from '../workflows/workflows.module';
import { ReplayController } from './replay.controller';
import { ReplayService } from './replay.service';

/** Event replay: rebuilds a workflow's state from its stored events through the workflows' write path. */
@Module({
  imports: [WorkflowsModule, WebhooksModule, MaintenanceModule],
  controllers: [ReplayController],
  providers: [ReplayService],
})
export class ReplayModule {}
