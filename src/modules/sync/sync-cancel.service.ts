import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../../audit/audit.service';
import { AppError } from '../../common/app-error';
import type { AuditActor } from '../../common/audit-actor';
import { MaintenanceModeService } from '../maintenance/maintenance-mode.service';
import type { WorkflowResponseDto } from '../workflows/dto/workflow-response.dto';
import { WorkflowStateService } from '../workflows/workflow-state.service';
import { WorkflowsService } from '../workflows/workflows.service';

/**
 * `POST /api/opal/sync/{sync_id}/cancel`: the state machine's `cancel` through the workflows' write path (the
 * version bumped, the change announced). The trigger's pending retries stop because the dispatcher only claims
 * `pending` rows; OPAL is not called (it has no cancel call), so callbacks of a run it started are stored and
 * listed as usual but change nothing.
 */
@Injectable()
export class SyncCancelService {
  private readonly logger = new Logger('ForceSync');

  constructor(
    private readonly workflows: WorkflowsService,
    private readonly workflowState: WorkflowStateService,
    private readonly maintenance: MaintenanceModeService,
    private readonly audit: AuditService,
  ) {}

  async cancel(ref: string, reason: string | null, actor: AuditActor): Promise<WorkflowResponseDto> {
    await this.maintenance.assertWritable();
    const found = await this.workflows.resolve(ref);
    if (!found) throw new AppError('WORKFLOW_NOT_FOUND', 'No workflow with this id');
    await this.workflowState.cancel(found.id, reason);
    await this.audit.record({
      action: 'cancel',
      actor: actor.actor,
      clientIp: actor.clientIp,
      method: actor.method,
      route: actor.route,
      details: { sync_id: found.id, reason },
    });
    this.logger.log({ msg: 'Workflow cancelled', sync_id: found.id });
    return this.workflows.getResponse(found.id);
  }
}
