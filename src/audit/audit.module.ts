import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditLogEntity } from './audit-log.entity';
import { AuthFailureEntity } from './auth-failure.entity';
import { AuditService } from './audit.service';
import { AuthFailuresService } from './auth-failures.service';

@Global()
@Module({
  imports: [TypeOrmModule.forFeature([AuditLogEntity, AuthFailureEntity])],
  providers: [AuditService, AuthFailuresService],
  exports: [AuditService, AuthFailuresService],
})
export class AuditModule {}
