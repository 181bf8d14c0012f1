import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiExtraModels,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiParam,
  ApiServiceUnavailableResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { OperatorAuth } from '../../policy/policy';
import { ThrottleGroup } from '../../policy/throttling';
import { ListStreamFrameDto, ListStreamQueryDto, SyncStreamFrameDto } from './dto/live-stream.dto';
import { LiveStreamsService } from './live-streams.service';

const STREAM_HEADERS = {
  'Cache-Control': {
    description: '`no-cache, no-transform`: never buffered or compressed',
    schema: { type: 'string' },
  },
  'X-Accel-Buffering': {
    description: '`no`: proxies pass each frame on at once',
    schema: { type: 'string' },
  },
} as const;

const TOO_MANY_STREAMS = {
  description:
    'TOO_MANY_STREAMS: this instance holds SSE_MAX_STREAMS streams (retry after `Retry-After` seconds, or on ' +
    'another instance); SERVICE_UNAVAILABLE while it shuts down',
  type: ErrorResponseDto,
  headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } },
};

@ApiTags('live-progress')
@ApiExtraModels(SyncStreamFrameDto, ListStreamFrameDto)
@Controller('opal')
export class LiveController {
  constructor(private readonly live: LiveStreamsService) {}

  /**
   * One workflow's progress as server-sent events: a `snapshot`, a `progress` frame for each stored change and
   * `end` with the final state, then the server closes. Read it with `fetch` and the `Authorization` header
   * (never a key in the URL); resume with `Last-Event-ID`. A `: keep-alive` comment comes every
   * SSE_HEARTBEAT_SECONDS.
   */
  @Get('sync/:sync_id/events')
  @OperatorAuth()
  @ThrottleGroup('read')
  @ApiParam({
    name: 'sync_id',
    description: 'The sync id (or OPAL workflow id, or correlation id) of the workflow',
    example: '0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11',
  })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description:
      'The version last received: no snapshot when it is the current version, else a snapshot of the current state',
    example: '7',
  })
  @ApiOkResponse({
    description:
      'A stream of frames (`text/event-stream`), each `event:`, `id:` and one `data:` line and a blank line:\n\n' +
      '```\nevent: snapshot\nid: 3\ndata: {"sync_id":"0b0e7c1a-…","version":3,"status":"running",…}\n\n' +
      ': keep-alive\n\nevent: progress\nid: 4\ndata: {…,"version":4,…}\n\n' +
      'event: end\nid: 21\ndata: {…,"version":21,"status":"completed",…}\n```\n\n' +
      'The schema describes one frame, with `data` parsed.',
    headers: STREAM_HEADERS,
    content: { 'text/event-stream': { schema: { $ref: getSchemaPath(SyncStreamFrameDto) } } },
  })
  @ApiNotFoundResponse({ description: 'WORKFLOW_NOT_FOUND (before any frame)', type: ErrorResponseDto })
  @ApiServiceUnavailableResponse(TOO_MANY_STREAMS)
  streamSync(@Param('sync_id') syncId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    return this.live.openSyncStream(syncId, req, res);
  }

  /**
   * Every workflow's changes as server-sent events, for list views: an `event: workflow` frame with the
   * workflow object each time one is stored (in the given status, if any). A `: keep-alive` comment comes every
   * SSE_HEARTBEAT_SECONDS.
   */
  @Get('syncs/events')
  @OperatorAuth()
  @ThrottleGroup('read')
  @ApiOkResponse({
    description:
      'A stream of frames (`text/event-stream`), each `event: workflow` and one `data:` line and a blank line:\n\n' +
      '```\nevent: workflow\ndata: {"sync_id":"0b0e7c1a-…","version":4,"status":"running",…}\n\n: keep-alive\n```\n\n' +
      'The schema describes one frame, with `data` parsed.',
    headers: STREAM_HEADERS,
    content: { 'text/event-stream': { schema: { $ref: getSchemaPath(ListStreamFrameDto) } } },
  })
  @ApiBadRequestResponse({ description: 'VALIDATION_FAILED (unknown status)', type: ErrorResponseDto })
  @ApiServiceUnavailableResponse(TOO_MANY_STREAMS)
  streamSyncs(@Query() query: ListStreamQueryDto, @Req() req: Request, @Res() res: Response): void {
    this.live.openListStream(query.status ?? null, req, res);
  }
}
