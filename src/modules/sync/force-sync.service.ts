import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppError } from '../../common/app-error';
import { newCorrelationId, RequestContext } from '../../common/request-context';
import { AppConfig } from '../../config/app-config';
import { AuditService } from '../../audit/audit.service';
import type { AuditActor } from '../../common/audit-actor';
import { MetricsService } from '../../metrics/metrics.service';
import { isTerminalWorkflowStatus } from '../../domain/workflow';
import { OPAL_AGENTS, SCOPE_DETAILS, STRATEGY_WORKFLOW } from '../../domain/opal';
import { apiPath, syncStatusPath } from '../../domain/routes';
import type { SyncScope } from '../../domain/opal';
import { OpalBreakerService, type BreakerPermit } from '../opal/opal-breaker.service';
import { OpalClientService } from '../opal/opal-client.service';
import { OpalConfigurationService } from '../opal/opal-configuration.service';
import { MaintenanceModeService } from '../maintenance/maintenance-mode.service';
import { WorkflowStateService, type TriggerClaim } from '../workflows/workflow-state.service';
import { WorkflowsService } from '../workflows/workflows.service';
import type { ForceSyncRequestDto } from './dto/force-sync-request.dto';
import type { ForceSyncResponseDto } from './dto/force-sync-response.dto';
import type {
  OrchestrationTriggerInfoDto,
  OrchestrationTriggerRequestDto,
  OrchestrationTriggerResponseDto,
} from './dto/orchestration-trigger.dto';
import type { SyncConfigurationResponseDto } from './dto/sync-configuration.dto';
import type { RerunResponseDto } from './dto/workflow-lifecycle.dto';
import { IdempotencyService, parseIdempotencyKey, requestHash } from './idempotency.service';
import type { IdempotentAnswer, RouteAnswer } from './idempotency.service';
import {
  DEFAULT_CLIENT_NAME,
  DEFAULT_FORCE_SYNC_TRIGGERED_BY,
  DEFAULT_INDUSTRY,
  DEFAULT_SCOPE,
  DEFAULT_TRIGGER_TRIGGERED_BY,
  FORCE_SYNC_PARAMETERS,
  TRIGGER_PARAMETERS,
  workflowSecurity,
} from './sync-descriptions';
import { TriggerDispatcherService } from './trigger-dispatcher.service';
import type { DispatchState } from './trigger-dispatcher.service';

type Endpoint = 'force_sync' | 'orchestration_trigger';

interface LaunchSpec {
  source: Endpoint;
  syncScope: SyncScope;
  clientName: string;
  industry: string;
  recipients: string[];
  includeRagUpdate: boolean;
  triggeredBy: string;
  sessionId: string | null;
  engineForm: Record<string, unknown> | null;
  clientMetadata: Record<string, unknown> | null;
  allowConcurrent: boolean;
  /** A rerun: the finished workflow whose inputs these are, and the new workflow's id (audited beforehand). */
  rerunOf?: { original: string; syncId: string };
}

/** A workflow created and its first attempt made within the request's budget. */
interface Launched {
  syncId: string;
  correlationId: string;
  createdAt: Date;
  state: DispatchState;
  externalDurationMs: number;
  outcome: 'accepted' | 'retry_scheduled';
  /** No call was made: OPAL's circuit breaker was open (what it said). */
  shortCircuited: string | null;
}

const FORCE_SYNC_SCOPE = 'POST /api/opal/sync';
const TRIGGER_SCOPE = 'POST /api/orchestrations/trigger';
const RERUN_SCOPE = 'POST /api/opal/sync/{sync_id}/rerun';
const MIN_ATTEMPT_TIMEOUT_MS = 100;

/**
 * Force sync and orchestration trigger: validate what the DTOs cannot, create the workflow (single flight per
 * scope and client, enforced in the database), make the first call to OPAL within the response budget, and
 * answer 200 / 202 / 502. Later attempts belong to the TriggerDispatcherService.
 */
@Injectable()
export class ForceSyncService {
  private readonly logger = new Logger('ForceSync');

  constructor(
    private readonly config: AppConfig,
    private readonly opalConfig: OpalConfigurationService,
    private readonly opal: OpalClientService,
    private readonly workflowState: WorkflowStateService,
    private readonly dispatcher: TriggerDispatcherService,
    private readonly idempotency: IdempotencyService,
    private readonly metrics: MetricsService,
    private readonly breaker: OpalBreakerService,
    private readonly maintenance: MaintenanceModeService,
    private readonly workflows: WorkflowsService,
    private readonly audit: AuditService,
  ) {}

  /** `caller`: the operator's scope for idempotency keys (see CallerScope). */
  async forceSync(
    dto: ForceSyncRequestDto,
    idempotencyHeader: string | string[] | undefined,
    caller: string,
  ): Promise<IdempotentAnswer<ForceSyncResponseDto>> {
    const started = performance.now();
    const key = parseIdempotencyKey(idempotencyHeader);
    await this.maintenance.assertWritable();
    this.assertConfigured('force_sync');
    const spec: LaunchSpec = {
      source: 'force_sync',
      syncScope: dto.sync_scope ?? DEFAULT_SCOPE,
      clientName: dto.client_context?.client_name ?? DEFAULT_CLIENT_NAME,
      industry: dto.client_context?.industry ?? DEFAULT_INDUSTRY,
      recipients: dto.client_context?.recipients ?? [],
      includeRagUpdate: dto.include_rag_update ?? true,
      triggeredBy: dto.triggered_by ?? DEFAULT_FORCE_SYNC_TRIGGERED_BY,
      sessionId: null,
      engineForm: null,
      clientMetadata: dto.metadata ?? null,
      allowConcurrent: dto.allow_concurrent ?? false,
    };
    const answer = await this.idempotency.run(caller, FORCE_SYNC_SCOPE, key, requestHash(dto), async () => {
      const launched = await this.launch(spec, started);
      return this.forceSyncAnswer(spec, launched, started);
    });
    if (answer.replayed) this.metrics.forceSyncOutcomes.inc({ endpoint: 'force_sync', outcome: 'replayed' });
    return answer;
  }

  async triggerOrchestration(
    dto: OrchestrationTriggerRequestDto,
    idempotencyHeader: string | string[] | undefined,
    caller: string,
  ): Promise<IdempotentAnswer<OrchestrationTriggerResponseDto>> {
    const started = performance.now();
    const key = parseIdempotencyKey(idempotencyHeader);
    await this.maintenance.assertWritable();
    if (dto.workflow_name !== STRATEGY_WORKFLOW) {
      this.metrics.forceSyncOutcomes.inc({ endpoint: 'orchestration_trigger', outcome: 'not_allowed' });
      throw new AppError('WORKFLOW_NOT_ALLOWED', `Only ${STRATEGY_WORKFLOW} may be triggered`, [
        { field: 'workflow_name', message: `workflow_name must be ${STRATEGY_WORKFLOW}` },
      ]);
    }
    this.assertConfigured('orchestration_trigger');
    const spec: LaunchSpec = {
      source: 'orchestration_trigger',
      syncScope: DEFAULT_SCOPE,
      clientName: dto.client_name ?? DEFAULT_CLIENT_NAME,
      industry: dto.engine_form?.industry ?? DEFAULT_INDUSTRY,
      recipients: dto.preferences?.recipients ?? [],
      includeRagUpdate: true,
      triggeredBy: dto.triggered_by ?? DEFAULT_TRIGGER_TRIGGERED_BY,
      sessionId: dto.session_id,
      engineForm: dto.engine_form ? { ...dto.engine_form } : null,
      clientMetadata: null,
      allowConcurrent: true,
    };
    const answer = await this.idempotency.run(caller, TRIGGER_SCOPE, key, requestHash(dto), async () => {
      const launched = await this.launch(spec, started);
      const accepted = launched.outcome === 'accepted';
      const body: OrchestrationTriggerResponseDto = {
        success: true,
        workflow_id: launched.syncId,
        opal_workflow_id: launched.state.opalWorkflowId,
        session_id: dto.session_id,
        correlation_id: launched.correlationId,
        status: launched.outcome,
        status_url: syncStatusPath(launched.syncId),
        message: accepted
          ? `${STRATEGY_WORKFLOW} triggered: OPAL accepted the request`
          : `${STRATEGY_WORKFLOW} queued: OPAL has not accepted yet; the service retries in the background`,
      };
      return { status: accepted ? 200 : 202, body };
    });
    if (answer.replayed) {
      this.metrics.forceSyncOutcomes.inc({ endpoint: 'orchestration_trigger', outcome: 'replayed' });
    }
    return answer;
  }

  /**
   * `POST /api/opal/sync/{sync_id}/rerun`: a new workflow with a finished one's inputs (scope, client context,
   * trigger kind, session id, engine form, metadata) and `rerun_of`, answered like a force sync (200/202/502,
   * Idempotency-Key honoured). WORKFLOW_NOT_FOUND, or WORKFLOW_STILL_ACTIVE while the original is not finished.
   * A force sync's single flight applies as to any force sync. Audited once per new workflow.
   */
  async rerun(
    ref: string,
    idempotencyHeader: string | string[] | undefined,
    caller: string,
    actor: AuditActor,
  ): Promise<IdempotentAnswer<RerunResponseDto>> {
    const started = performance.now();
    const key = parseIdempotencyKey(idempotencyHeader);
    await this.maintenance.assertWritable();
    const original = await this.workflows.rerunSource(ref);
    if (!original) throw new AppError('WORKFLOW_NOT_FOUND', 'No workflow with this id');
    if (!isTerminalWorkflowStatus(original.status)) {
      throw new AppError(
        'WORKFLOW_STILL_ACTIVE',
        `The workflow is still active (${original.status}); cancel it first or wait for it to finish`,
        [{ sync_id: original.id, status: original.status }],
      );
    }
    this.assertConfigured(original.source);
    const inputs = this.opal.inputsOf(original.outboundPayload, {
      clientName: original.clientName,
      syncScope: original.syncScope,
      triggeredBy: original.triggeredBy,
      // A force sync's row holds the session OPAL opened for it, not a choice of the caller.
      sessionId: original.source === 'orchestration_trigger' ? original.sessionId : null,
    });
    const defaultTriggeredBy =
      original.source === 'force_sync' ? DEFAULT_FORCE_SYNC_TRIGGERED_BY : DEFAULT_TRIGGER_TRIGGERED_BY;
    const spec: LaunchSpec = {
      source: original.source,
      syncScope: inputs.syncScope ?? DEFAULT_SCOPE,
      clientName: inputs.clientName,
      industry: inputs.industry ?? DEFAULT_INDUSTRY,
      recipients: inputs.recipients,
      includeRagUpdate: inputs.includeRagUpdate ?? true,
      triggeredBy: inputs.triggeredBy || defaultTriggeredBy,
      sessionId: inputs.sessionId,
      engineForm: inputs.engineForm,
      clientMetadata: inputs.clientMetadata,
      allowConcurrent: original.source !== 'force_sync',
    };
    const answer = await this.idempotency.run(
      caller,
      RERUN_SCOPE,
      key,
      requestHash({ rerun_of: original.id }),
      async () => {
        const syncId = randomUUID();
        // Audited once the new workflow exists, so the record never names a workflow that was not created.
        const launched = await this.launch({ ...spec, rerunOf: { original: original.id, syncId } }, started);
        await this.audit.record({
          action: 'rerun',
          actor: actor.actor,
          clientIp: actor.clientIp,
          method: actor.method,
          route: actor.route,
          details: { rerun_of: original.id, sync_id: syncId },
        });
        const { status, body } = this.forceSyncAnswer(spec, launched, started);
        return { status, body: { ...body, rerun_of: original.id } };
      },
    );
    if (answer.replayed)
      this.metrics.forceSyncOutcomes.inc({ endpoint: original.source, outcome: 'replayed' });
    return answer;
  }

  /** `GET /api/opal/sync`: 200 with a valid configuration, 500 CONFIGURATION_ERROR (same report) otherwise. */
  configurationReport(): RouteAnswer<SyncConfigurationResponseDto> {
    const configuration = this.opalConfig.report();
    const report: SyncConfigurationResponseDto = {
      workflow_security: workflowSecurity(),
      configuration,
      circuit_breaker: this.breaker.report(),
      endpoint: apiPath('opal/sync'),
      method: 'POST',
      parameters: FORCE_SYNC_PARAMETERS,
    };
    if (configuration.valid) return { status: 200, body: report };
    return {
      status: 500,
      body: {
        success: false,
        error: 'Configuration Error',
        code: 'CONFIGURATION_ERROR',
        message: 'Environment validation failed',
        details: configuration.checks.filter((c) => !c.ok).map((c) => ({ name: c.name, message: c.message })),
        correlation_id: RequestContext.correlationId() ?? 'unknown',
        ...report,
      },
    };
  }

  describeTrigger(): OrchestrationTriggerInfoDto {
    const configuration = this.opalConfig.report();
    return {
      endpoint: apiPath('orchestrations/trigger'),
      method: 'POST',
      allowed_workflow: STRATEGY_WORKFLOW,
      blocked_workflows: workflowSecurity().blocked_workflows,
      ready: configuration.valid,
      mode: configuration.mode,
      problems: configuration.checks.filter((c) => !c.ok).map((c) => c.name),
      parameters: TRIGGER_PARAMETERS,
    };
  }

  private assertConfigured(endpoint: Endpoint): void {
    const report = this.opalConfig.report();
    if (report.valid) return;
    this.metrics.forceSyncOutcomes.inc({ endpoint, outcome: 'configuration_error' });
    throw new AppError(
      'CONFIGURATION_ERROR',
      'Environment validation failed',
      report.checks.filter((c) => !c.ok).map((c) => ({ name: c.name, message: c.message })),
    );
  }

  private async launch(spec: LaunchSpec, started: number): Promise<Launched> {
    const syncId = spec.rerunOf?.syncId ?? randomUUID();
    const correlationId = newCorrelationId('force-sync');
    const context = RequestContext.current();
    if (context) context.workflowCorrelationId = correlationId;
    const createdAt = new Date();
    const payload = this.opal.buildRequest({
      syncId,
      correlationId,
      clientName: spec.clientName,
      industry: spec.industry,
      recipients: spec.recipients,
      syncScope: spec.syncScope,
      includeRagUpdate: spec.includeRagUpdate,
      triggeredBy: spec.triggeredBy,
      forceSync: spec.source === 'force_sync',
      triggerTimestamp: createdAt,
      sessionId: spec.sessionId,
      engineForm: spec.engineForm,
      clientMetadata: spec.clientMetadata,
    });

    // An open breaker: the workflow is created with its first call scheduled for the end of the cooldown (the
    // dispatcher makes it), and the request answers at once instead of spending its budget on a failing OPAL.
    const permit = this.breaker.acquire();
    let firstCall: TriggerClaim | null;
    try {
      firstCall = await this.workflowState.create({
        id: syncId,
        correlationId,
        source: spec.source,
        syncScope: spec.syncScope,
        clientName: spec.clientName,
        triggeredBy: spec.triggeredBy,
        sessionId: spec.sessionId,
        outboundPayload: payload as unknown as Record<string, unknown>,
        firstAttemptClaimed: permit !== null,
        firstAttemptLeaseMs: permit === null ? this.breaker.waitMs() : this.dispatcher.initialLeaseMs,
        rerunOf: spec.rerunOf?.original ?? null,
        singleFlightMinutes:
          spec.source === 'force_sync' && !spec.allowConcurrent ? this.config.workflowTimeoutMinutes : null,
      });
    } catch (error) {
      if (permit !== null) this.breaker.release(permit);
      if (error instanceof AppError && error.code === 'SYNC_ALREADY_ACTIVE') {
        this.metrics.forceSyncOutcomes.inc({ endpoint: spec.source, outcome: 'already_active' });
      }
      throw error;
    }
    this.logger.log({ msg: 'Workflow created', sync_id: syncId, source: spec.source, scope: spec.syncScope });
    if (firstCall === null || permit === null) {
      return this.shortCircuited(spec, syncId, correlationId, createdAt);
    }
    return this.firstAttempt(spec, firstCall, permit, { syncId, correlationId, createdAt }, started);
  }

  /** The breaker refused the call: 202 with the first call already scheduled, without waiting for anything. */
  private shortCircuited(spec: LaunchSpec, syncId: string, correlationId: string, createdAt: Date): Launched {
    const breaker = this.breaker.report();
    const nextAttemptAt = new Date(Date.now() + this.breaker.waitMs());
    this.metrics.forceSyncOutcomes.inc({ endpoint: spec.source, outcome: 'retry_scheduled' });
    this.logger.warn({
      msg: 'OPAL circuit breaker open: first call scheduled, not made',
      sync_id: syncId,
      next_attempt_at: nextAttemptAt.toISOString(),
    });
    return {
      syncId,
      correlationId,
      createdAt,
      state: {
        status: 'pending',
        attempts: 0,
        opalWorkflowId: null,
        nextAttemptAt,
        lastStatusCode: null,
        lastError: null,
      },
      externalDurationMs: 0,
      outcome: 'retry_scheduled',
      shortCircuited: `circuit breaker ${breaker.state}: ${breaker.consecutive_failures} consecutive calls to OPAL failed`,
    };
  }

  private async firstAttempt(
    spec: LaunchSpec,
    firstCall: TriggerClaim,
    permit: BreakerPermit,
    created: { syncId: string; correlationId: string; createdAt: Date },
    started: number,
  ): Promise<Launched> {
    const { syncId, correlationId, createdAt } = created;

    const elapsed = performance.now() - started;
    const timeoutMs = Math.max(
      MIN_ATTEMPT_TIMEOUT_MS,
      Math.min(this.config.opal.timeoutMs, this.config.opal.forceSyncResponseBudgetMs - elapsed),
    );
    // The attempt's record stores the response time (what is left after it is only building the answer).
    const dispatched = await this.dispatcher.attemptNow(firstCall, permit, Math.floor(timeoutMs), started);
    const { state } = dispatched;
    const externalDurationMs = dispatched.attempt.durationMs;

    if (state.status === 'trigger_failed') {
      this.metrics.forceSyncOutcomes.inc({ endpoint: spec.source, outcome: 'rejected' });
      throw new AppError(
        'OPAL_TRIGGER_REJECTED',
        state.lastStatusCode === null
          ? `OPAL did not accept the trigger after ${state.attempts} attempt(s)`
          : `OPAL refused the trigger (HTTP ${state.lastStatusCode})`,
        [{ sync_id: syncId, opal_status: state.lastStatusCode }],
      );
    }
    const outcome = state.status === 'pending' ? 'retry_scheduled' : 'accepted';
    this.metrics.forceSyncOutcomes.inc({ endpoint: spec.source, outcome });
    return { syncId, correlationId, createdAt, state, externalDurationMs, outcome, shortCircuited: null };
  }

  private forceSyncAnswer(
    spec: LaunchSpec,
    launched: Launched,
    started: number,
  ): RouteAnswer<ForceSyncResponseDto> {
    const accepted = launched.outcome === 'accepted';
    const { state } = launched;
    const scope = SCOPE_DETAILS[spec.syncScope];
    const body: ForceSyncResponseDto = {
      success: true,
      sync_id: launched.syncId,
      correlation_id: launched.correlationId,
      message: accepted
        ? `Force sync started: OPAL accepted ${STRATEGY_WORKFLOW}`
        : launched.shortCircuited !== null
          ? 'Force sync queued: calls to OPAL are failing (circuit breaker open); the first call is scheduled'
          : 'Force sync queued: OPAL has not accepted the trigger yet; the service retries in the background',
      status_url: syncStatusPath(launched.syncId),
      sync_details: {
        scope: spec.syncScope,
        platforms_included: [...scope.platforms],
        estimated_duration: scope.estimatedDuration,
        triggered_by: spec.triggeredBy,
        sync_timestamp: launched.createdAt.toISOString(),
        internal_workflow: { enabled: true, workflow_id: launched.syncId, status: state.status },
        external_opal: {
          triggered: accepted,
          workflow_name: STRATEGY_WORKFLOW,
          workflow_id: state.opalWorkflowId,
          status: launched.outcome,
          attempts: state.attempts,
          next_attempt_at: accepted || !state.nextAttemptAt ? null : state.nextAttemptAt.toISOString(),
          last_error: accepted ? null : (launched.shortCircuited ?? state.lastError),
          ai_agents_count: OPAL_AGENTS.length,
          simulated: this.opalConfig.mode === 'simulator',
        },
        telemetry: {
          total_duration_ms: Math.round(performance.now() - started),
          external_duration_ms: launched.externalDurationMs,
        },
      },
    };
    return { status: accepted ? 200 : 202, body };
  }
}
