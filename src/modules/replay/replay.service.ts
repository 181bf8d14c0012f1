import { Injectable, Logger } from '@nestjs/common';
import { AppError } from '../../common/app-error';
import { AuditService } from '../../audit/audit.service';
import { newCorrelationId } from '../../common/request-context';
import { OPAL_AGENTS, isAgentId, type AgentId } from '../../domain/opal';
import { MaintenanceModeService } from '../maintenance/maintenance-mode.service';
import { WebhookEventsService, type WorkflowEventRow } from '../webhooks/webhook-events.service';
import {
  WorkflowStateService,
  type WorkflowRef,
  type WorkflowState,
  type WorkflowTransaction,
} from '../workflows/workflow-state.service';
import { WorkflowsService } from '../workflows/workflows.service';
import type { WorkflowStatus } from '../../domain/workflow';
import type { ReplayRequestDto } from './dto/replay-request.dto';
import type { ReplayResponseDto } from './dto/replay-response.dto';
import { planReplay, type ReplayEvent, type ReplayOptions, type ReplayPlan } from './replay-plan';

interface StoredEvent extends ReplayEvent {
  row: WorkflowEventRow;
}

export interface ReplayActor {
  actor: string | null;
  clientIp: string | null;
  method: string;
  route: string;
}

/**
 * Rebuilds a workflow's state from its stored events with the same state machine and write path as live
 * processing. Never calls OPAL and never creates events; a dry run writes nothing (only the audit record).
 */
@Injectable()
export class ReplayService {
  private readonly logger = new Logger('Replay');

  constructor(
    private readonly workflows: WorkflowsService,
    private readonly workflowState: WorkflowStateService,
    private readonly events: WebhookEventsService,
    private readonly audit: AuditService,
    private readonly maintenance: MaintenanceModeService,
  ) {}

  async replay(
    body: ReplayRequestDto & { workflow_id: string },
    actor: ReplayActor,
  ): Promise<ReplayResponseDto> {
    const started = process.hrtime.bigint();
    await this.maintenance.assertWritable();
    const workflow = await this.workflows.resolve(body.workflow_id);
    if (!workflow) throw new AppError('WORKFLOW_NOT_FOUND', 'No workflow with this id');

    const replayId = newCorrelationId('replay');
    const dryRun = body.dry_run ?? false;
    const fromOffset = body.from_offset ?? 0;
    const agentFilter =
      body.agent_filter && body.agent_filter.length > 0 ? body.agent_filter.filter(isAgentId) : null;
    const forceReprocess = body.replay_options?.force_reprocess ?? false;

    // The workflow row lock is what live processing takes too, so no event is applied to it meanwhile; a dry
    // run reads under the same lock (and writes nothing) so that it sees what a real run would see.
    const outcome = await this.workflowState.transaction((tx) =>
      this.replayIn(tx, workflow, { fromOffset, agentFilter, forceReprocess }, { write: !dryRun }),
    );
    if (!outcome) throw new AppError('WORKFLOW_NOT_FOUND', 'No workflow with this id');

    const { plan, state } = outcome;
    const response: ReplayResponseDto = {
      success: true,
      replay_id: replayId,
      workflow_id: workflow.id,
      dry_run: dryRun,
      from_offset: fromOffset,
      agent_filter: agentFilter,
      events_considered: plan.considered.length,
      events_replayed: plan.selectedIds.size,
      events: plan.considered.map(({ offset, event, action }) => ({
        offset,
        event_id: event.id,
        event_type: event.eventType,
        agent_id: event.agentId,
        action,
      })),
      resulting_state: toReplayState(state),
      duration_ms: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
    };
    await this.audit.record({
      action: 'replay',
      ...actor,
      details: {
        replay_id: replayId,
        workflow_id: workflow.id,
        requested: body.workflow_id,
        dry_run: dryRun,
        from_offset: fromOffset,
        agent_filter: agentFilter,
        force_reprocess: forceReprocess,
        events_considered: response.events_considered,
        events_replayed: response.events_replayed,
        resulting_status: state.status,
      },
    });
    this.logger.log({
      msg: dryRun ? 'Replay dry run' : 'Replay applied',
      replay_id: replayId,
      sync_id: workflow.id,
      events_replayed: response.events_replayed,
      resulting_status: state.status,
    });
    return response;
  }

  /**
   * Replays one workflow inside the caller's write-path transaction: its events, then its row, are locked (the
   * order live processing takes them in), the state is rebuilt and, with `write`, stored and the replayed events
   * marked processed. Null when the workflow no longer exists. Events stored after the lock are not in the
   * replay: they stay pending and are processed afterwards.
   */
  async replayIn(
    tx: WorkflowTransaction,
    workflow: WorkflowRef,
    options: ReplayOptions,
    { write }: { write: boolean },
  ): Promise<{ plan: ReplayPlan; state: WorkflowState; fromStatus: WorkflowStatus } | null> {
    // Live processing claims event rows before it locks their workflow; a replay that writes takes them in the
    // same order, or it could hold the workflow while a processor holding its events waits for it (deadlock).
    const events = await this.eventsOf(tx.manager, workflow, { lock: write });
    if (!(await tx.load([workflow.id], { lock: true })).has(workflow.id)) return null;
    const fromStatus = tx.stateOf(workflow.id).status;
    const plan = planReplay(events, options);
    const effective = (plan.effective as StoredEvent[]).map(({ row }) => ({
      eventType: row.event_type,
      agentId: row.agent_id,
      status: row.status,
      occurredAt: row.occurred_at,
      errorMessage: row.error_message,
      receivedAt: row.received_at,
    }));
    const state = tx.rebuild(workflow.id, effective, { write });
    if (write) await this.events.markReplayed(tx.manager, [...plan.selectedIds], workflow.id);
    return { plan, state, fromStatus };
  }

  private async eventsOf(
    ...args: Parameters<WebhookEventsService['eventsOfWorkflow']>
  ): Promise<StoredEvent[]> {
    const rows = await this.events.eventsOfWorkflow(...args);
    return rows.map((row) => ({
      id: row.id,
      eventType: row.event_type,
      agentId: row.agent_id,
      processingStatus: row.processing_status,
      row,
    }));
  }
}

function toReplayState(state: WorkflowState): ReplayResponseDto['resulting_state'] {
  const agents = {} as Record<AgentId, string>;
  for (const agentId of OPAL_AGENTS) agents[agentId] = state.agents[agentId].status;
  return { status: state.status, agents };
}
