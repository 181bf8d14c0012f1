import { Injectable, Logger } from '@nestjs/common';
import { Observable } from 'rxjs';
import type { WorkflowStatus } from '../../domain/workflow';

/** A workflow's state was stored: its new version (versions only go up) and status. */
export interface WorkflowChanged {
  syncId: string;
  version: number;
  status: WorkflowStatus;
}

export type WorkflowChangeListener = (change: WorkflowChanged) => void;

/**
 * "Workflow changed" notifications, in this process: after each transaction of the write path commits, one
 * notification per workflow it changed, with the version it stored. Listeners run synchronously, in commit
 * order; one that throws is logged and the others still run (a listener never breaks a writer). A listener
 * should hand off slow work rather than do it inline.
 *
 * Only this instance's changes are heard here (each exactly once, so listeners may count them). Every instance's
 * changes reach the live progress streams through PostgreSQL: the write path runs `pg_notify('workflow_changed',
 * '<sync_id>:<version>')` in its transaction (`WorkflowsRepository`, delivered at commit) and the live module
 * LISTENs.
 */
@Injectable()
export class WorkflowEvents {
  private readonly logger = new Logger('WorkflowEvents');
  private readonly listeners = new Set<WorkflowChangeListener>();

  /** Calls `listener` for every change committed from now on; returns the function that stops it. */
  onChange(listener: WorkflowChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The same notifications as an Observable (e.g. for a server-sent event stream). */
  changes(): Observable<WorkflowChanged> {
    return new Observable<WorkflowChanged>((subscriber) =>
      this.onChange((change) => subscriber.next(change)),
    );
  }

  /** Called by the write path once its transaction has committed. */
  publish(changes: Iterable<WorkflowChanged>): void {
    for (const change of changes) {
      for (const listener of this.listeners) {
        try {
          listener(change);
        } catch (error) {
          this.logger.error({ msg: 'A workflow change listener failed', sync_id: change.syncId, error });
        }
      }
    }
  }
}
