import { InitialSchema1795890079861 } from '../../migrations/1795890079861-InitialSchema';
import { DiagnosticsIndexes1795901325122 } from '../../migrations/1795901325122-DiagnosticsIndexes';
import { WorkflowVersion1796183824404 } from '../../migrations/1796183824404-WorkflowVersion';
import { JobLeaseExpiry1796184958072 } from '../../migrations/1796184958072-JobLeaseExpiry';

/** Every migration, in order. Listed explicitly so that builds and tests load the same classes. */
export const MIGRATIONS = [
  InitialSchema1795890079861,
  DiagnosticsIndexes1795901325122,
  WorkflowVersion1796183824404,
  JobLeaseExpiry1796184958072,
];
