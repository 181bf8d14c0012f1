import { HmacService } from '../../src/common/hmac.service';

/** The service's own signer, holding `secret` (what OPAL would sign with). */
export function testHmac(secret: string): HmacService {
  return new HmacService({ secrets: [secret], toleranceSeconds: 300 });
}
