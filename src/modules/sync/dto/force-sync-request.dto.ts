import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsEmail,
  IsIn,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { SYNC_SCOPES } from '../../../domain/opal';
import type { SyncScope } from '../../../domain/opal';
import { MaxJsonBytes } from '../json-size.validator';

export const METADATA_MAX_BYTES = 8 * 1024;

/** Who the sync is for. */
export class ClientContextDto {
  /**
   * Client name (default `OPAL Sync Operation`); with the scope, it decides whether a sync is already active.
   * @example "ACME Corp"
   */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  client_name?: string;

  /**
   * Industry (default `Technology`).
   * @example "Retail"
   */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  industry?: string;

  /**
   * Who receives the results; at most 50 e-mail addresses.
   * @example ["strategy@acme.example"]
   */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsEmail({}, { each: true })
  recipients?: string[];
}

/** Force sync request. Every field is optional; unknown fields are refused. */
export class ForceSyncRequestDto {
  /** Which platforms to sync (default `priority_platforms`). */
  @ApiProperty({ enum: SYNC_SCOPES, enumName: 'SyncScope', required: false, default: 'priority_platforms' })
  @IsOptional()
  @IsIn(SYNC_SCOPES)
  sync_scope?: SyncScope;

  /** Who the sync is for (client name, industry, recipients). */
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => ClientContextDto)
  client_context?: ClientContextDto;

  /**
   * Ask OPAL to refresh its RAG index too (default true).
   * @example true
   */
  @IsOptional()
  @IsBoolean()
  include_rag_update?: boolean;

  /**
   * Who or what started the sync (default `force_sync`).
   * @example "admin_header_button"
   */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  triggered_by?: string;

  /**
   * Free-form data (at most 8 KiB as JSON), sent to OPAL as `metadata.client_metadata`; it can never
   * override the service's own fields.
   * @example {"ticket":"OPS-42"}
   */
  @IsOptional()
  @IsObject()
  @MaxJsonBytes(METADATA_MAX_BYTES)
  metadata?: Record<string, unknown>;

  /**
   * Start a new sync even when one with the same scope and client is still active (default false).
   * @example false
   */
  @IsOptional()
  @IsBoolean()
  allow_concurrent?: boolean;
}
