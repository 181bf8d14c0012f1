import { ValidateBy, type ValidationOptions } from 'class-validator';

/** UTF-8 size of the value serialised as JSON; Infinity when it cannot be serialised. */
export function jsonByteLength(value: unknown): number {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? Infinity : Buffer.byteLength(text, 'utf8');
  } catch {
    return Infinity;
  }
}

/** The property serialised as JSON is at most `maxBytes` bytes. */
export function MaxJsonBytes(maxBytes: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'maxJsonBytes',
      constraints: [maxBytes],
      validator: {
        validate: (value: unknown) =>
          value === undefined || value === null || jsonByteLength(value) <= maxBytes,
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must be at most ${maxBytes} bytes when serialised as JSON`,
      },
    },
    options,
  );
}
