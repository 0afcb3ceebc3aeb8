export * from './schema';
export { ConfigError, loadConfigFile, loadDefaultConfig, validateConfig } from './load';
export { defaultConfig } from './defaults';
