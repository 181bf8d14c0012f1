import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, statusOf, type ErrorCode } from '../src/common/app-error';

// The committed openapi.json is what the client is generated from; the foundation suite proves it equals the
// served document. These rules keep it good enough for generated clients and for people reading /docs.
interface Schema {
  type?: string;
  description?: string;
  example?: unknown;
  enum?: unknown[];
  nullable?: boolean;
  $ref?: string;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  items?: Schema;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
}
interface Answer {
  $ref?: string;
  description?: string;
  content?: Record<string, { schema?: Schema; examples?: Record<string, { value: unknown }> }>;
}
interface Operation {
  operationId: string;
  summary?: string;
  parameters?: { name: string; in: string; description?: string; example?: unknown; schema?: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, Answer>;
}

const doc = JSON.parse(readFileSync(join(process.cwd(), 'openapi.json'), 'utf8')) as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; responses?: Record<string, Answer> };
};
// Answers shared by every operation (408, 415) are references to components.responses.
const resolved = (answer: Answer): Answer =>
  answer.$ref ? (doc.components.responses?.[answer.$ref.split('/').pop() ?? ''] ?? {}) : answer;
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, op]) => ({
    name: `${method.toUpperCase()} ${path}`,
    op: {
      ...op,
      responses: Object.fromEntries(Object.entries(op.responses).map(([status, a]) => [status, resolved(a)])),
    },
  })),
);

// Whether a property needs its own example: references, enums and booleans speak for themselves.
function needsExample(property: Schema): boolean {
  if (property.$ref || property.allOf || property.enum || property.type === 'boolean') return false;
  if (property.type === 'array' && (property.items?.$ref || property.items?.enum)) return false;
  return true;
}

describe('OpenAPI document quality (e2e)', () => {
  it('gives every operation a summary and a camelCase, unique operation id', () => {
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { name, op } of operations) {
      expect({ name, id: /^[a-z][a-zA-Z]+$/.test(op.operationId) }).toEqual({ name, id: true });
      expect({ name, summary: Boolean(op.summary) }).toEqual({ name, summary: true });
    }
  });

  it('describes every parameter and answer, and gives each parameter an example', () => {
    const problems: string[] = [];
    for (const { name, op } of operations) {
      for (const p of op.parameters ?? []) {
        if (!p.description) problems.push(`${name}: parameter ${p.name} has no description`);
        const exampled =
          p.example !== undefined || p.schema?.example !== undefined || p.schema?.enum || p.schema?.$ref;
        if (!exampled) problems.push(`${name}: parameter ${p.name} has no example`);
      }
      for (const [status, answer] of Object.entries(op.responses)) {
        if (!answer.description) problems.push(`${name}: answer ${status} has no description`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('describes every schema property and gives each an example', () => {
    const problems: string[] = [];
    for (const [schemaName, schema] of Object.entries(doc.components.schemas)) {
      for (const [prop, property] of Object.entries(schema.properties ?? {})) {
        if (!property.description) problems.push(`${schemaName}.${prop} has no description`);
        if (needsExample(property) && property.example === undefined) {
          problems.push(`${schemaName}.${prop} has no example`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('names every enum of more than one value that is not nullable', () => {
    const inline: string[] = [];
    const visit = (where: string, s: Schema | undefined): void => {
      if (!s) return;
      if (s.enum && s.enum.length > 1 && !s.nullable) inline.push(where);
      visit(`${where}[]`, s.items);
      for (const [k, v] of Object.entries(s.properties ?? {})) visit(`${where}.${k}`, v);
    };
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      for (const [k, v] of Object.entries(schema.properties ?? {})) visit(`${name}.${k}`, v);
    }
    for (const { name, op } of operations) {
      for (const p of op.parameters ?? []) visit(`${name} ?${p.name}`, p.schema);
    }
    expect(inline).toEqual([]);
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(['SyncScope', 'WorkflowStatus', 'AgentStatus', 'OpalAgent', 'EventType']),
    );
  });

  it('types every 4XX/5XX answer with the error body and shows an example per code, of the right status', () => {
    const problems: string[] = [];
    let examples = 0;
    for (const { name, op } of operations) {
      for (const [status, answer] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        const json = answer.content?.['application/json'];
        if (!json?.schema?.$ref) {
          problems.push(`${name}: ${status} has no JSON body schema`);
          continue;
        }
        // Two documented exceptions: the probes' 503 is the health report, and GET /api/opal/sync's 500 is the
        // configuration report plus the error fields.
        if (/\/(HealthReportDto|SyncConfigurationResponseDto)$/.test(json.schema.$ref)) continue;
        if (!json.schema.$ref.endsWith('/ErrorResponseDto'))
          problems.push(`${name}: ${status} is not ErrorResponseDto`);
        const bodies = Object.values(json.examples ?? {}).map(
          (e) => e.value as { code: ErrorCode; success: boolean },
        );
        if (bodies.length === 0) problems.push(`${name}: ${status} has no example`);
        for (const body of bodies) {
          examples++;
          if (
            !ERROR_CODES.includes(body.code) ||
            statusOf(body.code).status !== Number(status) ||
            body.success
          ) {
            problems.push(`${name}: ${status} example ${body.code} does not match`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(examples).toBeGreaterThan(30);
  });

  it('keeps operator routes behind the operator scheme and probes public', () => {
    const security = (path: string, method: string): unknown =>
      (doc.paths[path][method] as unknown as { security?: unknown }).security;
    expect(security('/api/opal/sync', 'post')).toEqual([{ operator: [] }]);
    expect(security('/api/health/ready', 'get')).toEqual([{}]);
    expect(security('/api/webhooks/opal-workflow', 'post')).toEqual([{ osa_signature: [] }]);
  });
});
