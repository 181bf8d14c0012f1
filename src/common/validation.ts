import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { buildMessage, isISO8601, ValidateBy, type ValidationOptions } from 'class-validator';
import { AppError, type ErrorDetail } from './app-error';

function flatten(errors: ValidationError[], parent = ''): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    if (error.constraints) {
      for (const message of Object.values(error.constraints)) {
        out.push({ field, message: message.replace(/^property (\S+) should not exist$/, 'unknown field') });
      }
    }
    if (error.children && error.children.length > 0) out.push(...flatten(error.children, field));
  }
  return out;
}

/** Strict input: unknown fields rejected, types transformed, every problem listed in `details`. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    stopAtFirstError: false,
    exceptionFactory: (errors) => {
      const details = flatten(errors);
      const fields = [...new Set(details.map((d) => d.field))].join(', ');
      return new AppError('VALIDATION_FAILED', `Invalid request: ${fields}`, details);
    },
  });
}

/** The widest offset PostgreSQL accepts in a time (±15:59); anything beyond is refused. */
const MAX_OFFSET_MINUTES = 15 * 60 + 59;
const EARLIEST_MS = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST_MS = Date.parse('9999-12-31T23:59:59.999Z');
const ZONE = /(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)$/;

/**
 * The instant an ISO-8601 time names, or null when it is not one the service can hand to PostgreSQL, so that
 * every time that passes validation is one the database accepts (it refused some with a 500): offsets beyond
 * ±15:59, instants outside the years 0001–9999 (UTC), and ISO forms that JavaScript does not read (`2026-W01-1`,
 * basic `20260101T000000Z`, a decimal comma) are null. A time without an offset is UTC. PostgreSQL is then
 * given the canonical UTC form (`storableTimeIso`), never the caller's spelling.
 */
export function storableTimeMs(value: string): number | null {
  let text = value;
  const timeAt = value.search(/[Tt ]/);
  if (timeAt !== -1) {
    const zone = ZONE.exec(value.slice(timeAt + 1));
    if (zone === null) text = `${value}Z`;
    else if (zone[1] !== undefined && Number(zone[2]) * 60 + Number(zone[3] ?? 0) > MAX_OFFSET_MINUTES) {
      return null;
    }
  }
  const ms = Date.parse(text);
  return Number.isNaN(ms) || ms < EARLIEST_MS || ms > LATEST_MS ? null : ms;
}

/** A validated time as the canonical UTC string handed to PostgreSQL (`2026-01-01T00:00:00.000Z`). */
export function storableTimeIso(value: string): string {
  const ms = storableTimeMs(value);
  if (ms === null) throw new AppError('VALIDATION_FAILED', 'Invalid time');
  return new Date(ms).toISOString();
}

/**
 * With `@IsISO8601({ strict: true })`: the time must also be one PostgreSQL stores (see `storableTimeMs`). A
 * value that is not ISO-8601 at all is left to `IsISO8601`'s message.
 */
export function IsStorableTime(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStorableTime',
      validator: {
        validate: (value: unknown) =>
          typeof value !== 'string' || !isISO8601(value, { strict: true }) || storableTimeMs(value) !== null,
        defaultMessage: buildMessage(
          (prefix) =>
            `${prefix}$property must be a time between the years 0001 and 9999 (UTC) with an offset within ±15:59`,
          options,
        ),
      },
    },
    options,
  );
}
