import { Module } from '@nestjs/common';
import { OpalBreakerService } from './opal-breaker.service';
import { OpalClientService } from './opal-client.service';
import { OpalConfigurationService } from './opal-configuration.service';
import { OpalTargetService } from './opal-target.service';

/** Everything about OPAL: its configuration, where triggers go (real OPAL or the simulator), the client. */
@Module({
  providers: [OpalConfigurationService, OpalTargetService, OpalClientService, OpalBreakerService],
  exports: [OpalConfigurationService, OpalTargetService, OpalClientService, OpalBreakerService],
})
export class OpalModule {}
