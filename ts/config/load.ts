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
  return validateConfig(raw, path);
}

export function loadDefaultConfig(): SbcConfig {
  return validateConfig(defaultConfig(), 'built-in defaults');
}
