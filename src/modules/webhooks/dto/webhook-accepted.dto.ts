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
  /**
   * The service's id of the stored event (named by a later 409 for the same event).
   * @example "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f"
   */
  event_id: string;
  /**
   * The event's correlation id (top level or `metadata.correlation_id`), else the request's.
   * @example "force-sync-1732800000000-k3j9x2a1"
   */
  @ApiProperty({ type: String, nullable: true })
  correlation_id: string | null;
  /** What happens to the event next. */
  processing: WebhookProcessingDto;
}
