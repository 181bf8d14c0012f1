import { Injectable, type PipeTransform } from '@nestjs/common';
import { AppError } from './app-error';
import { BodyProblem, MAX_JSON_DEPTH } from './http-pipeline';

/**
 * Reports a body that could not be decoded (the body middleware leaves a `BodyProblem` in its place). As the
 * first global pipe it runs after the guards, so authentication (or the webhook signature) is checked before
 * anything is said about the body; and only routes that take a body report it. A pipe rather than an
 * interceptor: with no interceptor registered, Nest calls handlers without an Observable per request.
 */
@Injectable()
export class BodyProblemPipe implements PipeTransform {
  transform(value: unknown): unknown {
    if (!(value instanceof BodyProblem)) return value;
    switch (value.kind) {
      case 'INVALID_JSON':
        throw new AppError('INVALID_JSON', 'The request body is not valid JSON');
      case 'TOO_DEEP':
        throw new AppError('INVALID_JSON', `The request body nests deeper than ${MAX_JSON_DEPTH} levels`);
      case 'UNSUPPORTED_MEDIA_TYPE':
        throw new AppError(
          'UNSUPPORTED_MEDIA_TYPE',
          'The request body must be JSON (Content-Type: application/json)',
        );
    }
  }
}
