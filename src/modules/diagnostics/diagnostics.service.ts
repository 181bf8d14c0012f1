import { Injectable, Logger } from '@nestjs/common';
import { WebhookEventsService, type StoredEventRow } from '../webhooks/webhook-events.service';
import type { LastWebhookQueryDto } from './dto/last-webhook-query.dto';
import type { DiagnosticEventDto, LastWebhookResponseDto } from './dto/last-webhook-response.dto';
import { SystemHealthService } from './system-health.service';

export function toDiagnosticEvent(row: StoredEventRow, includePayload: boolean): DiagnosticEventDto {
  const event: DiagnosticEventDto = {
    event_id: row.id,
    sequence: Number(row.sequence),
    event_type: row.event_type,
    workflow_id: row.workflow_ref,
    sync_id: row.sync_id,
    workflow_name: row.workflow_name,
    agent_id: row.agent_id,
    status: row.status,
    execution_status: row.execution_status,
    received_at: row.received_at.toISOString(),
    processed_at: row.processed_at ? row.processed_at.toISOString() : null,
    processing_status: row.processing_status,
    processing_time_ms: row.processing_time_ms,
    signature_valid: true,
    correlation_id: row.correlation_id,
    error_message: row.error_message,
  };
  if (includePayload) event.payload = row.payload ?? {};
  return event;
}

/** The event list of `GET /api/diagnostics/last-webhook`: filters, keyset pagination, counts. */
@Injectable()
export class DiagnosticsService {
  private readonly logger = new Logger('Diagnostics');

  constructor(
    private readonly events: WebhookEventsService,
    private readonly systemHealth: SystemHealthService,
  ) {}

  async lastWebhook(query: LastWebhookQueryDto): Promise<LastWebhookResponseDto> {
    const limit = query.limit ?? 25;
    let page: Pick<LastWebhookResponseDto, 'events' | 'pagination' | 'summary'>;
    try {
      page = await this.eventPage(query, limit);
    } catch (error) {
      // With the database gone the operator still gets an answer: the health part says why the list is empty.
      if (await this.systemHealth.databaseReachable()) throw error;
      this.logger.warn({ msg: 'Diagnostics served without events: database unreachable' });
      page = {
        events: [],
        pagination: { limit, next_before: null },
        summary: { matched_count: null, matched_count_capped: false, returned_count: 0 },
      };
    }
    const { systemHealth, alerts } = await this.systemHealth.evaluate();
    return { ...page, system_health: systemHealth, alerts };
  }

  private async eventPage(
    query: LastWebhookQueryDto,
    limit: number,
  ): Promise<Pick<LastWebhookResponseDto, 'events' | 'pagination' | 'summary'>> {
    const page = await this.events.search(query, limit);
    return {
      events: page.rows.map((row) => toDiagnosticEvent(row, query.include_payload === true)),
      pagination: { limit, next_before: page.nextBefore },
      summary: {
        matched_count: page.matched,
        matched_count_capped: page.matchedCapped,
        returned_count: page.rows.length,
      },
    };
  }
}
