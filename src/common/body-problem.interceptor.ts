import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { AppError } from './app-error';
import { MAX_JSON_DEPTH, type RequestWithBody } from './http-pipeline';

/**
 * Reports a body that could not be decoded. It runs after the guards, so authentication (or the webhook
 * signature) is checked before anything is said about the body.
 */
@Injectable()
export class BodyProblemInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<RequestWithBody>();
    if (req.bodyProblem === 'INVALID_JSON')
      throw new AppError('INVALID_JSON', 'The request body is not valid JSON');
    if (req.bodyProblem === 'TOO_DEEP') {
      throw new AppError('INVALID_JSON', `The request body nests deeper than ${MAX_JSON_DEPTH} levels`);
    }
    if (req.bodyProblem === 'UNSUPPORTED_MEDIA_TYPE') {
      throw new AppError(
        'UNSUPPORTED_MEDIA_TYPE',
        'The request body must be JSON (Content-Type: application/json)',
      );
    }
    return next.handle();
  }
}
