import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AppConfig } from '../config/app-config';
import { Public } from '../policy/policy';
import { AdminSessionDto } from './admin-session.dto';

/**
 * Tells the operator console whether operator routes are open (development without keys), so that it asks for
 * a key only when one is needed. It reveals no key and no data: only what the first operator call would show.
 * Public and unlimited, like the index: it costs no more than a plain request.
 */
@ApiTags('meta')
@Controller('admin')
@Public()
export class AdminSessionController {
  constructor(private readonly config: AppConfig) {}

  @Get('session')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Whether operator routes need a key (for the operator console)' })
  @ApiOkResponse({ description: 'Operator route mode', type: AdminSessionDto })
  getAdminSession(): AdminSessionDto {
    const open = this.config.operatorApiKeys.length === 0 && !this.config.isProduction;
    return { operator_routes: open ? 'open' : 'key_required', environment: this.config.nodeEnv };
  }
}
