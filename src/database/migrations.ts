// Written by `npm run migration:generate`, `migration:create` and `migration:register` from the files in
// migrations/: do not edit by hand.
import { InitialSchema1795890079861 } from '../../migrations/1795890079861-InitialSchema';
import { DiagnosticsIndexes1795901325122 } from '../../migrations/1795901325122-DiagnosticsIndexes';

/** Every migration, in order. Listed explicitly so that builds and tests load the same classes. */
export const MIGRATIONS = [InitialSchema1795890079861, DiagnosticsIndexes1795901325122];
