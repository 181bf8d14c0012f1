import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { buildSignatureHeader, SIGNATURE_HEADER, verifySignature, type VerifyResult } from './signature';

/** The part of the settings the HMAC service reads: the secrets (two during a rotation) and the window. */
export interface HmacSettings {
  /** The first secret signs; every one verifies. */
  secrets: readonly string[];
  /** Oldest accepted signature timestamp, in seconds back from now (newer than 60 s ahead is refused too). */
  toleranceSeconds: number;
}

/**
 * Signing and verification of `X-OSA-Signature` (contract section 5) with the configured secrets: the receiver's
 * guard verifies with it, the OPAL simulator, the benchmark's load generator and the tests sign with it. The
 * work is the pure functions of `signature.ts` (HMAC-SHA256 over `t` and the raw bytes, constant-time compare,
 * the timestamp window); this service only holds the secrets, so nothing else has to pass them around.
 *
 * In the app it is injected, built from the settings (`webhook.secrets`, `webhook.toleranceSeconds`); outside
 * Nest (the standalone simulator, the benchmark, tests) `new HmacService({ secrets, toleranceSeconds })`.
 */
export class HmacService {
  static readonly header = SIGNATURE_HEADER;

  private readonly secrets: readonly string[];
  private readonly toleranceSeconds: number;

  constructor(settings: HmacSettings) {
    this.secrets = [...settings.secrets];
    this.toleranceSeconds = settings.toleranceSeconds;
  }

  /** True when there is a secret to sign with. */
  get canSign(): boolean {
    return this.secrets.length > 0 && this.secrets[0].length > 0;
  }

  /** `t=<unix ms>,v1=<hex>` for these bytes, signed with the first secret. */
  sign(rawBody: Buffer | string, timestampMs: number = Date.now()): string {
    if (!this.canSign) throw new RangeError('HmacService has no secret to sign with');
    return buildSignatureHeader(this.secrets[0], rawBody, timestampMs);
  }

  /**
   * Checks a header against the raw bytes with every configured secret. The failure reason is for logs and
   * metrics only: answer every failure the same way.
   */
  verify(header: string | undefined | null, rawBody: Buffer, nowMs: number = Date.now()): VerifyResult {
    return verifySignature({
      header,
      rawBody,
      secrets: this.secrets,
      nowMs,
      toleranceSeconds: this.toleranceSeconds,
    });
  }
}

/** Provides HmacService everywhere (the receiver's guard, the built-in simulator). */
@Global()
@Module({
  providers: [
    {
      provide: HmacService,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => new HmacService(config.webhook),
    },
  ],
  exports: [HmacService],
})
export class HmacModule {}
