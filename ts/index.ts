export * from './media';
export * from './sdp';
export * from './sip';
export * from './config';
export { startSbc, type RunningSbc } from './sbc';
export { SbcApp } from './b2bua/app';
export { Router, RouteError, type RouteDecision } from './b2bua/routing';
export { CallRejection, sipReason } from './b2bua/reason';
export { createLogger, setLogLevel, LOG_LEVELS, type LogLevel } from './ops/log';
