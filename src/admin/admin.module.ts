import { Module } from '@nestjs/common';
import { AdminAssetsService } from './admin-assets.service';
import { AdminController } from './admin.controller';
import { AdminSessionController } from './admin-session.controller';

@Module({ controllers: [AdminController, AdminSessionController], providers: [AdminAssetsService] })
export class AdminModule {}
