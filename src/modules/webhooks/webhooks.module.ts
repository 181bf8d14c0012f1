import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MaintenanceModule } from '../maintenance/maintenance.module';
import { WorkflowsModule } from '../workflows/workflows.module';
import { EVENT_PROCESSOR_OPTIONS, EventProcessorService } from './event-processor.service';
import type { EventProcessorOptions } from './event-processor.service';
import { RejectedDeliveryEntity } from './rejected-delivery.entity';
import { WebhookEventEntity } from './webhook-event.entity';
import { WebhookEventsRepository } from './webhook-events.repository';
import { WebhookEventsService } from './webhook-events.service';
import { WebhookRejectionFilter } from './webhook-rejection.filter';
import { WebhookSignatureGuard } from './webhook-signature.guard';
import { WebhooksController } from './webhooks.controller';
import { WebhooksService } from './webhooks.service';

/** The tables this module owns. */
export const WEBHOOKS_ENTITIES = [WebhookEventEntity, RejectedDeliveryEntity];

/**
 * Owns `webhook_events` and `rejected_deliveries`: OPAL's signed callbacks (verification, durable idempotent
 * storage), their processing into workflow state through the workflows' write path, and the stored events for
 * the other modules (`WebhookEventsService`).
 */
@Module({
  imports: [TypeOrmModule.forFeature(WEBHOOKS_ENTITIES), WorkflowsModule, MaintenanceModule],
  controllers: [WebhooksController],
  providers: [
    WebhooksService,
    WebhookEventsService,
    WebhookEventsRepository,
    EventProcessorService,
    WebhookSignatureGuard,
    WebhookRejectionFilter,
    { provide: EVENT_PROCESSOR_OPTIONS, useValue: { enabled: true } satisfies EventProcessorOptions },
  ],
  exports: [WebhookEventsService],
})
export class WebhooksModule {}
