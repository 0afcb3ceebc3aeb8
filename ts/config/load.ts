/** Loading and validating the YAML configuration. */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

import { configSchema, type SbcConfig } from './schema';
import { defaultConfig } from './defaults';

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: string[] = [],
  ) {
    super(issues.length ? `${message}:\n  ${issues.join('\n  ')}` : message);
    this.name = 'ConfigError';
  }
}

/**
 * Environment overrides for containers: `ESBC__media__bindAddress=10.0.0.5`
 * sets media.bindAddress; path segments are separated by `__`, array
 * indexes are numbers (`ESBC__realms__0__sip__listen__0__port=5070`), and
 * values are read as YAML scalars (numbers, booleans, strings).
 */
export function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv = process.env): unknown {
  const root = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('ESBC__') || value === undefined) continue;
    const path = key.slice('ESBC__'.length).split('__').filter(Boolean);
    if (path.length === 0) continue;
    let node: Record<string, unknown> = root;
    for (const [i, seg] of path.entries()) {
      if (i === path.length - 1) {
        node[seg] = parseYaml(value) as unknown;
      } else {
        const next = node[seg];
        if (!next || typeof next !== 'object') node[seg] = /^\d+$/.test(path[i + 1]!) ? [] : {};
        node = node[seg] as Record<string, unknown>;
      }
    }
  }
  return root;
}

/** Validates an already-parsed object; errors name the bad key path. */
export function validateConfig(raw: unknown, source = 'configuration'): SbcConfig {
  const r = configSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid ${source}`, issues);
  }
  return r.data;
}

export function loadConfigFile(path: string): SbcConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${path} is not valid YAML: ${(e as Error).message}`);
  }
  return validateConfig(applyEnvOverrides(raw), path);
}

export function loadDefaultConfig(): SbcConfig {
  return validateConfig(applyEnvOverrides(defaultConfig()), 'built-in defaults');
}
