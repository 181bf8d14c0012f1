import { Module } from '@nestjs/common';
import { WorkflowsModule } from '../workflows/workflows.module';
import { LiveController } from './live.controller';
import { LiveStreamsService } from './live-streams.service';
import { WorkflowFeed } from './workflow-feed.service';

/**
 * Live progress (contract section 11): server-sent event streams of workflow changes, fed by this instance's
 * write path and, across instances, by PostgreSQL LISTEN/NOTIFY. Owns no table: it reads through
 * `WorkflowsService`.
 */
@Module({
  imports: [WorkflowsModule],
  controllers: [LiveController],
  providers: [WorkflowFeed, LiveStreamsService],
  exports: [LiveStreamsService],
})
export class LiveModule {}
