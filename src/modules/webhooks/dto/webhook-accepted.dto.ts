import { ApiProperty } from '@nestjs/swagger';

export class WebhookProcessingDto {
  /** Always `queued`: the event is stored; it is applied to the workflow state right after. */
  @ApiProperty({ enum: ['queued'] })
  status: 'queued';
}

/** 202: the event is committed. */
export class WebhookAcceptedDto {
  /** Always true. */
  success: true;
  /** The service's id of the stored event (named by a later 409 for the same event). */
  event_id: string;
  /** The event's correlation id (top level or `metadata.correlation_id`), else the request's. */
  @ApiProperty({ type: String, nullable: true })
  correlation_id: string | null;
  processing: WebhookProcessingDto;
}
