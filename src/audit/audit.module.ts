import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditLogEntity } from './audit-log.entity';
import { AuthFailureEntity } from './auth-failure.entity';
import { AuditService } from './audit.service';
import { AuthFailuresService } from './auth-failures.service';

/** The tables this module owns. */
export const AUDIT_ENTITIES = [AuditLogEntity, AuthFailureEntity];

@Global()
@Module({
  imports: [TypeOrmModule.forFeature(AUDIT_ENTITIES)],
  providers: [AuditService, AuthFailuresService],
  exports: [AuditService, AuthFailuresService],
})
export class AuditModule {}
