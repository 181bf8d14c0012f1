import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../policy/policy';
import { AdminAssetsService } from './admin-assets.service';

/**
 * The operator console: a static page that talks to the public API with the operator key the operator types
 * in (kept in the tab's sessionStorage). The page holds no data and no secret, so it is public; every call it
 * makes is an operator route. Its script and style are files of their own, so helmet's CSP applies unchanged.
 */
@ApiExcludeController()
@Controller('admin')
@Public()
export class AdminController {
  constructor(private readonly assets: AdminAssetsService) {}

  @Get()
  @Header('Cache-Control', 'no-cache')
  getConsolePage(@Res() res: Response): void {
    this.send(res, 'index.html');
  }

  @Get('console.js')
  @Header('Cache-Control', 'no-cache')
  getConsoleScript(@Res() res: Response): void {
    this.send(res, 'console.js');
  }

  @Get('console.css')
  @Header('Cache-Control', 'no-cache')
  getConsoleStyle(@Res() res: Response): void {
    this.send(res, 'console.css');
  }

  private send(res: Response, name: string): void {
    const asset = this.assets.get(name);
    res.type(asset.contentType).send(asset.body);
  }
}
