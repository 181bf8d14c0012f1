import { Module } from '@nestjs/common';
import { WorkflowsModule } from '../workflows/workflows.module';
import { ReplayController } from './replay.controller';
import { ReplayService } from './replay.service';

/** Event replay: rebuilds a workflow's state from its stored events. */
@Module({
  imports: [WorkflowsModule],
  controllers: [ReplayController],
  providers: [ReplayService],
})
export class ReplayModule {}
