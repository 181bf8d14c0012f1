// Written by `npm run migration:generate`, `migration:create` and `migration:register` from the files in
// migrations/: do not edit by hand.
import { InitialSchema1795890079861 } from '../../migrations/1795890079861-InitialSchema';
import { DiagnosticsIndexes1795901325122 } from '../../migrations/1795901325122-DiagnosticsIndexes';
import { AuthFailureCounters1796184087963 } from '../../migrations/1796184087963-AuthFailureCounters';
import { IdempotencyKeysPerCaller1796184528271 } from '../../migrations/1796184528271-IdempotencyKeysPerCaller';

/** Every migration, in order. Listed explicitly so that builds and tests load the same classes. */
export const MIGRATIONS = [
  InitialSchema1795890079861,
  DiagnosticsIndexes1795901325122,
  AuthFailureCounters1796184087963,
  IdempotencyKeysPerCaller1796184528271,
];
