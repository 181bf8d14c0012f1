import { planReplay, type ReplayEvent } from './replay-plan';

const ev = (
  id: string,
  eventType: string,
  agentId: string | null,
  processingStatus: ReplayEvent['processingStatus'],
): ReplayEvent => ({
  id,
  eventType,
  agentId,
  processingStatus,
});

const stream: ReplayEvent[] = [
  ev('e0', 'workflow_started', null, 'processed'),
  ev('e1', 'agent_started', 'geo_audit', 'processed'),
  ev('e2', 'agent_completed', 'geo_audit', 'failed'),
  ev('e3', 'agent_completed', 'content_review', 'unmatched'),
  ev('e4', 'agent_completed', 'cmp_organizer', 'pending'),
  ev('e5', 'workflow_completed', null, 'processed'),
];
const ids = (events: { id: string }[]) => events.map((e) => e.id);

describe('planReplay', () => {
  it('by default selects failed and unmatched events and folds them with the processed ones', () => {
    const plan = planReplay(stream, { fromOffset: 0, agentFilter: null, forceReprocess: false });
    expect([...plan.selectedIds]).toEqual(['e2', 'e3']);
    expect(plan.considered.map((c) => `${c.offset}:${c.action}`)).toEqual([
      '0:skip',
      '1:skip',
      '2:apply',
      '3:apply',
      '4:skip',
      '5:skip',
    ]);
    expect(ids(plan.effective)).toEqual(['e0', 'e1', 'e2', 'e3', 'e5']);
  });

  it('force_reprocess selects every event except those the processor still owns', () => {
    const plan = planReplay(stream, { fromOffset: 0, agentFilter: null, forceReprocess: true });
    expect([...plan.selectedIds]).toEqual(['e0', 'e1', 'e2', 'e3', 'e5']);
  });

  it('from_offset and agent_filter narrow what is considered, not what the state is folded from', () => {
    const plan = planReplay(stream, {
      fromOffset: 2,
      agentFilter: ['content_review'],
      forceReprocess: false,
    });
    expect(plan.considered.map((c) => c.offset)).toEqual([3]);
    expect([...plan.selectedIds]).toEqual(['e3']);
    // e2 failed and was not selected: it stays out of the state.
    expect(ids(plan.effective)).toEqual(['e0', 'e1', 'e3', 'e5']);
  });

  it('an empty agent filter means every event', () => {
    const plan = planReplay(stream, { fromOffset: 0, agentFilter: [], forceReprocess: false });
    expect(plan.considered).toHaveLength(6);
  });
});
