export {
  startEmbeddedSipEngine,
  defaultSipBinaryPath,
  type EmbeddedSipEngine,
  type EmbeddedSipEngineOptions,
  type EngineLogEntry,
  type EmbeddedSipLimits,
  type SipEngineStats,
  type SipMessageCount,
  type SipListen,
  type SipTransport,
} from './embedded-engine';
