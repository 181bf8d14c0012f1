import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { getOptionsToken, getStorageToken } from '@nestjs/throttler';
import { AppConfig } from '../config/app-config';
import { AppThrottlerGuard, throttlerOptions } from './throttling';
import { RateLimitStorage } from './throttling.storage';

/** Rate limits per route group (contract section 2): options from config, Redis or memory storage, global guard. */
@Module({
  providers: [
    RateLimitStorage,
    {
      provide: getOptionsToken(),
      inject: [AppConfig, RateLimitStorage],
      useFactory: (config: AppConfig, storage: RateLimitStorage) => throttlerOptions(config, storage),
    },
    { provide: getStorageToken(), useExisting: RateLimitStorage },
    { provide: APP_GUARD, useClass: AppThrottlerGuard },
  ],
})
export class ThrottlingModule {}
