import { InitialSchema1795890079861 } from '../../migrations/1795890079861-InitialSchema';

/** Every migration, in order. Listed explicitly so that builds and tests load the same classes. */
export const MIGRATIONS = [InitialSchema1795890079861];
