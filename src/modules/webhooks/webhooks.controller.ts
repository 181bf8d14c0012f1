import { Body, Controller, Get, HttpCode, Post, UseFilters } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiOkResponse,
  ApiPayloadTooLargeResponse,
  ApiTags,
  ApiUnsupportedMediaTypeResponse,
} from '@nestjs/swagger';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { Public } from '../../policy/policy';
import { WebhookAcceptedDto } from './dto/webhook-accepted.dto';
import { WebhookEventDto } from './dto/webhook-event.dto';
import { WebhookReceiverStatusDto } from './dto/webhook-receiver-status.dto';
import { SignedWebhook } from './signed-webhook.decorator';
import { WebhookEventPipe, type ParsedWebhookEvent } from './webhook-event.parser';
import { WebhookRejectionFilter } from './webhook-rejection.filter';
import { WebhooksService } from './webhooks.service';
import { ThrottleGroup } from '../../policy/throttling';
import { WEBHOOK_ROUTE } from '../../domain/routes';

@ApiTags('webhooks')
@Controller(WEBHOOK_ROUTE)
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  /**
   * Receives one signed callback from OPAL. The event is stored before the answer; it is applied to the
   * workflow and agent state right after, by every instance's processing loop.
   */
  @Post()
  @HttpCode(202)
  @SignedWebhook()
  @ThrottleGroup('webhook')
  @UseFilters(WebhookRejectionFilter)
  @ApiBody({ description: 'One OPAL callback, signed in `X-OSA-Signature`', type: WebhookEventDto })
  @ApiAcceptedResponse({ description: 'Event stored', type: WebhookAcceptedDto })
  @ApiBadRequestResponse({
    description:
      'Invalid JSON (INVALID_JSON), invalid fields (VALIDATION_FAILED, each field in details) or a workflow other than strategy_workflow (WORKFLOW_NOT_ALLOWED)',
    type: ErrorResponseDto,
  })
  @ApiConflictResponse({
    description: 'The event was already received (WEBHOOK_DUPLICATE_EVENT, details name the stored event_id)',
    type: ErrorResponseDto,
  })
  @ApiPayloadTooLargeResponse({ description: 'Body over 1 MiB', type: ErrorResponseDto })
  @ApiUnsupportedMediaTypeResponse({
    description: 'UNSUPPORTED_MEDIA_TYPE: the body is not application/json',
    type: ErrorResponseDto,
  })
  receiveOpalWorkflowEvent(@Body(WebhookEventPipe) event: ParsedWebhookEvent): Promise<WebhookAcceptedDto> {
    return this.webhooks.ingest(event);
  }

  /** Receiver status: signature scheme and recent activity (counts only, no event content). */
  @Get()
  @Public()
  @ThrottleGroup('read')
  @ApiOkResponse({ description: 'Receiver status', type: WebhookReceiverStatusDto })
  getWebhookReceiverStatus(): Promise<WebhookReceiverStatusDto> {
    return this.webhooks.receiverStatus();
  }
}
