import { Module } from '@nestjs/common';
import { OpalConfigurationService } from './opal-configuration.service';

@Module({
  providers: [OpalConfigurationService],
  exports: [OpalConfigurationService],
})
export class OpalModule {}
