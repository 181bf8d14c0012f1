import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentActor, type AuditActor } from '../../common/audit-actor';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { OperatorAuth } from '../../policy/policy';
import { ThrottleGroup } from '../../policy/throttling';
import {
  DeadLettersQueryDto,
  DeadLettersResponseDto,
  ExportEventsQueryDto,
  RequeueRequestDto,
  RequeueResponseDto,
  StoredEventDto,
} from './dto/recovery.dto';
import { RecoveryService } from './recovery.service';

/** The runbook's recovery tools: event lookup, the dead-letter inbox and its requeue, the event export. */
@ApiTags('recovery')
@Controller()
export class RecoveryController {
  constructor(private readonly recovery: RecoveryService) {}

  /**
   * One stored event with its payload, processing status and error, and the workflow it was linked to, by the
   * service's event id or the sender's `event_id`.
   */
  @Get('events/:event_id')
  @OperatorAuth()
  @ThrottleGroup('read')
  @ApiOperation({ summary: 'One stored event, by its id or the sender’s event_id' })
  @ApiParam({
    name: 'event_id',
    description: "The service's event id, or the event_id the sender gave",
    example: '9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f',
  })
  @ApiOkResponse({ description: 'The event', type: StoredEventDto })
  @ApiNotFoundResponse({
    description: 'No stored event with this id (EVENT_NOT_FOUND)',
    type: ErrorResponseDto,
  })
  getEvent(@Param('event_id') eventId: string): Promise<StoredEventDto> {
    return this.recovery.event(eventId);
  }

  /**
   * The inbox of what needs a person, newest first and paged like diagnostics: events that match no workflow
   * (`unmatched`), events whose processing failed with the error (`failed`), refused deliveries per minute,
   * reason and client address (`rejected`; never a body).
   */
  @Get('diagnostics/dead-letters')
  @OperatorAuth()
  @ThrottleGroup('read')
  @ApiOperation({ summary: 'Dead-letter inbox: unmatched, failed or rejected' })
  @ApiOkResponse({ description: 'One page of the inbox', type: DeadLettersResponseDto })
  @ApiBadRequestResponse({ description: 'Invalid kind, limit or cursor', type: ErrorResponseDto })
  listDeadLetters(@Query() query: DeadLettersQueryDto): Promise<DeadLettersResponseDto> {
    return this.recovery.deadLetters(query);
  }

  /**
   * Puts unmatched or failed events back into processing, in their received order: `event_ids`, a `kind`, or
   * both; with neither, every dead letter, refused beyond 10,000. `dry_run` only counts. Audited.
   */
  @Post('diagnostics/dead-letters/requeue')
  @HttpCode(200)
  @OperatorAuth()
  @ThrottleGroup('admin')
  @ApiOperation({ summary: 'Requeue dead letters into processing' })
  @ApiOkResponse({ description: 'What was selected and requeued', type: RequeueResponseDto })
  @ApiBadRequestResponse({
    description: 'Invalid body, or more than 10,000 events without event_ids or kind',
    type: ErrorResponseDto,
  })
  requeueDeadLetters(
    @Body() body: RequeueRequestDto,
    @CurrentActor() actor: AuditActor,
  ): Promise<RequeueResponseDto> {
    return this.recovery.requeue(body, actor);
  }

  /**
   * Every event matching the filters of `GET /api/diagnostics/last-webhook`, oldest first, streamed as NDJSON or
   * CSV in constant memory whatever the size. Audited with the number of events sent.
   */
  @Get('diagnostics/events/export')
  @OperatorAuth()
  @ThrottleGroup('admin')
  @ApiOperation({ summary: 'Export the diagnostics selection as NDJSON or CSV' })
  @ApiOkResponse({
    description: 'The events, one per line (CSV: after a header line)',
    content: {
      'application/x-ndjson': {
        schema: { type: 'string' },
        example:
          '{"event_id":"9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f","sequence":1042,"event_type":"agent_completed"}\n',
      },
      'text/csv': {
        schema: { type: 'string' },
        example:
          'event_id,sequence,event_type\r\n9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f,1042,agent_completed\r\n',
      },
    },
  })
  @ApiBadRequestResponse({
    description: 'Invalid filter values (each listed in details)',
    type: ErrorResponseDto,
  })
  exportEvents(
    @Query() query: ExportEventsQueryDto,
    @CurrentActor() actor: AuditActor,
    @Res() res: Response,
  ): Promise<void> {
    return this.recovery.exportEvents(query, res, actor);
  }
}
