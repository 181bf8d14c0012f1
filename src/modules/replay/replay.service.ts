import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AppError } from '../../common/app-error';
import { AuditService } from '../../audit/audit.service';
import { newCorrelationId } from '../../common/request-context';
import { OPAL_AGENTS, isAgentId, type AgentId } from '../../domain/opal';
import { foldEvents, type StateEvent, type WorkflowState } from '../workflows/workflow-state';
import { WorkflowStateService, type WorkflowRow } from '../workflows/workflow-state.service';
import { WorkflowsService } from '../workflows/workflows.service';
import type { ReplayRequestDto } from './dto/replay-request.dto';
import type { ReplayResponseDto } from './dto/replay-response.dto';
import { planReplay, type ReplayEvent } from './replay-plan';

interface EventRow {
  id: string;
  event_type: string;
  agent_id: string | null;
  status: string;
  occurred_at: Date;
  received_at: Date;
  error_message: string | null;
  processing_status: ReplayEvent['processingStatus'];
}

interface StoredEvent extends ReplayEvent {
  row: EventRow;
}

export interface ReplayActor {
  actor: string | null;
  clientIp: string | null;
  method: string;
  route: string;
}

/**
 * Rebuilds a workflow's state from its stored events with the same state machine as live processing. Never calls
 * OPAL and never creates events; a dry run writes nothing (only the audit record).
 */
@Injectable()
export class ReplayService {
  private readonly logger = new Logger('Replay');

  constructor(
    private readonly dataSource: DataSource,
    private readonly workflows: WorkflowsService,
    private readonly workflowState: WorkflowStateService,
    private readonly audit: AuditService,
  ) {}

  async replay(body: ReplayRequestDto, actor: ReplayActor): Promise<ReplayResponseDto> {
    const started = process.hrtime.bigint();
    const workflow = await this.workflows.resolve(body.workflow_id);
    if (!workflow) throw new AppError('WORKFLOW_NOT_FOUND', 'No workflow with this id');

    const replayId = newCorrelationId('replay');
    const dryRun = body.dry_run ?? false;
    const fromOffset = body.from_offset ?? 0;
    const agentFilter =
      body.agent_filter && body.agent_filter.length > 0 ? body.agent_filter.filter(isAgentId) : null;
    const forceReprocess = body.replay_options?.force_reprocess ?? false;

    // The workflow row lock is what live processing takes too, so no event is applied to it meanwhile; a dry
    // run reads under the same lock (and rolls back) so that it sees what a real run would see.
    const outcome = await this.dataSource.transaction(async (manager) => {
      // Live processing claims event rows before it locks their workflow; a replay that writes takes them in the
      // same order, or it could hold the workflow while a processor holding its events waits for it (deadlock).
      // Events stored after this point are not in the replay: they stay pending and are processed afterwards.
      const events = await this.eventsOf(manager, workflow, { lock: !dryRun });
      const loaded = await this.workflowState.loadState(manager, workflow.id, { lock: true });
      if (!loaded) throw new AppError('WORKFLOW_NOT_FOUND', 'No workflow with this id');
      const plan = planReplay(events, { fromOffset, agentFilter, forceReprocess });
      const state = foldEvents(
        this.workflowState.initialStateFor(loaded.workflow),
        this.stateEvents(loaded.workflow, plan.effective as StoredEvent[]),
      );
      if (!dryRun) {
        await this.workflowState.saveState(manager, workflow.id, loaded.state, state);
        await this.markProcessed(manager, [...plan.selectedIds], workflow.id);
      }
      return { plan, state };
    });

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

  /** The workflow's events in receive order: linked to it, or not linked yet but naming it. */
  private async eventsOf(
    manager: EntityManager,
    workflow: Pick<WorkflowRow, 'id' | 'opalWorkflowId' | 'correlationId'>,
    options: { lock: boolean },
  ): Promise<StoredEvent[]> {
    const refs = [workflow.id, workflow.opalWorkflowId, workflow.correlationId].filter(
      (ref): ref is string => ref !== null,
    );
    const rows: EventRow[] = await manager.query(
      `SELECT id, event_type, agent_id, status, occurred_at, received_at, error_message, processing_status
         FROM webhook_events
        WHERE sync_id = $1
           OR (sync_id IS NULL AND (workflow_ref = ANY($2::text[]) OR correlation_id = ANY($2::text[])))
        ORDER BY sequence ${options.lock ? 'FOR UPDATE' : ''}`,
      [workflow.id, refs],
    );
    return rows.map((row) => ({
      id: row.id,
      eventType: row.event_type,
      agentId: row.agent_id,
      processingStatus: row.processing_status,
      row,
    }));
  }

  /**
   * The state-machine events to fold. A workflow the timeout sweep closed has no event for that: the timeout is
   * put back where it happened (before the first event received after it), so replay does not reopen it.
   */
  private stateEvents(workflow: WorkflowRow, events: StoredEvent[]): StateEvent[] {
    const out: StateEvent[] = [];
    const timedOutAt = workflow.status === 'timed_out' ? workflow.completedAt : null;
    let timeoutPlaced = timedOutAt === null;
    for (const event of events) {
      if (!timeoutPlaced && event.row.received_at.getTime() > timedOutAt!.getTime()) {
        out.push({ type: 'timeout', occurredAt: timedOutAt! });
        timeoutPlaced = true;
      }
      out.push(
        this.workflowState.stateEventOf({
          eventType: event.row.event_type,
          agentId: event.row.agent_id,
          status: event.row.status,
          occurredAt: event.row.occurred_at,
          errorMessage: event.row.error_message,
        }),
      );
    }
    if (!timeoutPlaced) out.push({ type: 'timeout', occurredAt: timedOutAt! });
    return out;
  }

  /** Replay is not live processing: processing_time_ms keeps what the processor measured (if anything). */
  private async markProcessed(manager: EntityManager, ids: string[], syncId: string): Promise<void> {
    if (ids.length === 0) return;
    await manager.query(
      `UPDATE webhook_events
          SET processing_status = 'processed', sync_id = $2, processed_at = statement_timestamp(),
              processing_error = NULL
        WHERE id = ANY($1::uuid[])`,
      [ids, syncId],
    );
  }
}

function toReplayState(state: WorkflowState): ReplayResponseDto['resulting_state'] {
  const agents = {} as Record<AgentId, string>;
  for (const agentId of OPAL_AGENTS) agents[agentId] = state.agents[agentId].status;
  return { status: state.status, agents };
}
