import { IsOptional, IsString, MaxLength } from 'class-validator';
import { CANCEL_REASON_MAX_LENGTH } from '../../../domain/workflow';
import { ForceSyncResponseDto } from './force-sync-response.dto';

/** Body of `POST /api/opal/sync/{sync_id}/cancel` (may be empty). */
export class CancelSyncRequestDto {
  /**
   * Why it is cancelled (stored with the workflow and in the audit log); at most 500 characters.
   * @example "started with the wrong scope"
   */
  @IsOptional()
  @IsString()
  @MaxLength(CANCEL_REASON_MAX_LENGTH)
  reason?: string;
}

/** The answer of a rerun: a force sync's answer, naming the workflow it reran. */
export class RerunResponseDto extends ForceSyncResponseDto {
  /**
   * The finished workflow whose inputs were used again.
   * @example "5d2c9e70-1b3a-4c6d-8e9f-0a1b2c3d4e5f"
   */
  rerun_of: string;
}
