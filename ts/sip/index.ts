export {
  startEmbeddedSipEngine,
  defaultSipBinaryPath,
  type EmbeddedSipEngine,
  type EmbeddedSipEngineOptions,
  type EngineLogEntry,
  type SipListen,
  type SipTransport,
} from './embedded-engine';
