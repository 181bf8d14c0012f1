import { Module } from '@nestjs/common';
import { WorkflowsModule } from '../workflows/workflows.module';
import { EVENT_PROCESSOR_OPTIONS, EventProcessorService } from './event-processor.service';
import type { EventProcessorOptions } from './event-processor.service';
import { RejectedDeliveriesService } from './rejected-deliveries.service';
import { WebhookRejectionFilter } from './webhook-rejection.filter';
import { WebhookSignatureGuard } from './webhook-signature.guard';
import { WebhooksController } from './webhooks.controller';
import { WebhooksService } from './webhooks.service';

/** OPAL's signed callbacks: verification, durable idempotent storage, and processing into workflow state. */
@Module({
  imports: [WorkflowsModule],
  controllers: [WebhooksController],
  providers: [
    WebhooksService,
    EventProcessorService,
    RejectedDeliveriesService,
    WebhookSignatureGuard,
    WebhookRejectionFilter,
    { provide: EVENT_PROCESSOR_OPTIONS, useValue: { enabled: true } satisfies EventProcessorOptions },
  ],
  exports: [EventProcessorService],
})
export class WebhooksModule {}
