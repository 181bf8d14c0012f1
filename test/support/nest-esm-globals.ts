// See nest-cjs-transformer.js: the CommonJS throttler packages read Nest from here under Jest.
import * as common from '@nestjs/common';
import * as core from '@nestjs/core';

const registry = globalThis as unknown as Record<symbol, unknown>;
registry[Symbol.for('jest-esm:@nestjs/common')] = common;
registry[Symbol.for('jest-esm:@nestjs/core')] = core;
