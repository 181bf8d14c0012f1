import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { DEFAULT_BODY_RULES, readJsonBody, UnreadBody } from './http-pipeline';

/**
 * Reads a route's `@Body()` (64 KiB, JSON; see `requestBodyGate`). As the first global pipe it runs after the
 * guards, so the rate limit and authentication come before a byte of the body is read, and an unauthenticated
 * caller learns nothing from body errors. Only routes that take a body read one. A pipe rather than an
 * interceptor: with no interceptor registered, Nest calls handlers without an Observable per request.
 */
@Injectable()
export class RequestBodyPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body' || !(value instanceof UnreadBody)) return value;
    return readJsonBody(value.req, DEFAULT_BODY_RULES);
  }
}
