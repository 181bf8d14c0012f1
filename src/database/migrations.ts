// Written by `npm run migration:generate`, `migration:create` and `migration:register` from the files in
// migrations/: do not edit by hand.
import { InitialSchema1795890079861 } from '../../migrations/1795890079861-InitialSchema';
import { DiagnosticsIndexes1795901325122 } from '../../migrations/1795901325122-DiagnosticsIndexes';
import { WorkflowVersion1796183824404 } from '../../migrations/1796183824404-WorkflowVersion';
import { AuthFailureCounters1796184087963 } from '../../migrations/1796184087963-AuthFailureCounters';
import { IdempotencyKeysPerCaller1796184528271 } from '../../migrations/1796184528271-IdempotencyKeysPerCaller';
import { JobLeaseExpiry1796184958072 } from '../../migrations/1796184958072-JobLeaseExpiry';
import { RelinkIndexes1796190000000 } from '../../migrations/1796190000000-RelinkIndexes';
import { Recovery1796196707520 } from '../../migrations/1796196707520-Recovery';
import { DeadLetterIndex1796196707521 } from '../../migrations/1796196707521-DeadLetterIndex';
import { WorkflowLifecycleAndMaintenance1796197079578 } from '../../migrations/1796197079578-WorkflowLifecycleAndMaintenance';
import { ReplicaHeartbeat1796199000000 } from '../../migrations/1796199000000-ReplicaHeartbeat';

/** Every migration, in order. Listed explicitly so that builds and tests load the same classes. */
export const MIGRATIONS = [
  InitialSchema1795890079861,
  DiagnosticsIndexes1795901325122,
  WorkflowVersion1796183824404,
  AuthFailureCounters1796184087963,
  IdempotencyKeysPerCaller1796184528271,
  JobLeaseExpiry1796184958072,
  RelinkIndexes1796190000000,
  Recovery1796196707520,
  DeadLetterIndex1796196707521,
  WorkflowLifecycleAndMaintenance1796197079578,
  ReplicaHeartbeat1796199000000,
];
