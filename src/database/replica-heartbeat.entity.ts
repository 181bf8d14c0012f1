import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One row, written on the primary every second while a read replica is configured and read on the replica: how
 * old the newest heartbeat the replica has applied is, is its replication lag (to within one heartbeat). It works
 * the same for logical and physical replication and needs no privileges on the replica.
 */
@Entity({ name: 'replica_heartbeat' })
export class ReplicaHeartbeatEntity {
  @PrimaryColumn({ type: 'int' })
  id: number;

  @Column({ name: 'beat_at', type: 'timestamptz' })
  beatAt: Date;
}

export const DATABASE_ENTITIES = [ReplicaHeartbeatEntity];
