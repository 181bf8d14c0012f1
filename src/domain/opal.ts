/**
 * The OPAL catalogue this service knows: the one workflow it may trigger, the nine agents that workflow runs
 * (in OPAL's order), and the sync scopes with the platforms and time estimates they stand for.
 */
export const STRATEGY_WORKFLOW = 'strategy_workflow';

/** Workflow names that are refused explicitly (every other name but `strategy_workflow` is refused too). */
export const BLOCKED_WORKFLOWS = ['strategy_assistant_workflow'] as const;

export const OPAL_AGENTS = [
  'integration_health',
  'content_review',
  'geo_audit',
  'audience_suggester',
  'experiment_blueprinter',
  'personalization_idea_generator',
  'customer_journey',
  'roadmap_generator',
  'cmp_organizer',
] as const;

export type AgentId = (typeof OPAL_AGENTS)[number];

export function isAgentId(value: unknown): value is AgentId {
  return typeof value === 'string' && (OPAL_AGENTS as readonly string[]).includes(value);
}

/** OSA Workflow Data Tools categories the agents use. */
export const OSA_TOOL_CATEGORIES = ['cmp', 'cmspaas', 'contentrecs', 'odp', 'webx', 'workflow-data'] as const;

export const SYNC_SCOPES = ['priority_platforms', 'all_platforms', 'odp_only', 'content_platforms'] as const;
export type SyncScope = (typeof SYNC_SCOPES)[number];

export const SCOPE_DETAILS: Record<SyncScope, { platforms: string[]; estimatedDuration: string }> = {
  all_platforms: {
    platforms: ['ODP', 'Content Recommendations', 'CMS PaaS', 'CMP', 'WebX'],
    estimatedDuration: '8-12 minutes',
  },
  priority_platforms: {
    platforms: ['ODP', 'Content Recommendations', 'CMS PaaS', 'CMP'],
    estimatedDuration: '6-8 minutes',
  },
  odp_only: { platforms: ['ODP'], estimatedDuration: '2-3 minutes' },
  content_platforms: {
    platforms: ['Content Recommendations', 'CMS PaaS', 'CMP'],
    estimatedDuration: '4-6 minutes',
  },
};
