import { Module } from '@nestjs/common';
import { AdminAssetsService } from './admin-assets.service';
import { AdminController } from './admin.controller';

@Module({ controllers: [AdminController], providers: [AdminAssetsService] })
export class AdminModule {}
