import type { AgentId } from '../../domain/opal';

/** A stored event of the workflow, in receive order. */
export interface ReplayEvent {
  id: string;
  eventType: string;
  agentId: string | null;
  processingStatus: 'pending' | 'processed' | 'unmatched' | 'failed';
}

export interface ReplayOptions {
  fromOffset: number;
  /** null or empty = every event. */
  agentFilter: readonly AgentId[] | null;
  forceReprocess: boolean;
}

export interface ReplayPlan {
  /** Events at or after fromOffset that pass the agent filter, with what the replay does to each. */
  considered: { offset: number; event: ReplayEvent; action: 'apply' | 'skip' }[];
  /** Ids of the events the replay (re)applies and marks processed. */
  selectedIds: Set<string>;
  /** The events the resulting state is folded from, in receive order: the selected ones and those already processed. */
  effective: ReplayEvent[];
}

/**
 * Which events a replay applies. Offsets number the workflow's stored events 0..n-1 in receive order. An event is
 * selected when it is at or after `fromOffset`, passes the agent filter (agent events of those agents only), and
 * either `forceReprocess` is set or its processing failed or found no workflow. Events still `pending` are never
 * selected: the processing loop owns them and applies them on top of the replayed state.
 *
 * The resulting state is always rebuilt from the initial state over the selected and already processed events,
 * so replaying twice gives the same state, and the filters only decide which events are (re)applied.
 */
export function planReplay(events: readonly ReplayEvent[], options: ReplayOptions): ReplayPlan {
  const filter =
    options.agentFilter && options.agentFilter.length > 0 ? new Set<string>(options.agentFilter) : null;
  const considered: ReplayPlan['considered'] = [];
  const selectedIds = new Set<string>();
  events.forEach((event, offset) => {
    if (offset < options.fromOffset) return;
    if (filter && (event.agentId === null || !filter.has(event.agentId))) return;
    const eligible =
      event.processingStatus !== 'pending' &&
      (options.forceReprocess ||
        event.processingStatus === 'failed' ||
        event.processingStatus === 'unmatched');
    if (eligible) selectedIds.add(event.id);
    considered.push({ offset, event, action: eligible ? 'apply' : 'skip' });
  });
  const effective = events.filter((e) => selectedIds.has(e.id) || e.processingStatus === 'processed');
  return { considered, selectedIds, effective };
}
