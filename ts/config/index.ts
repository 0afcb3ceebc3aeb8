export * from './schema';
export { applyEnvOverrides, ConfigError, loadConfigFile, loadDefaultConfig, validateConfig } from './load';
export { defaultConfig } from './defaults';
