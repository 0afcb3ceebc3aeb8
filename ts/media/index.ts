export { MediaEngine, Pipeline, type MediaLogRecord } from './engine';
export { MediaEngineError } from './errors';
export type { MediaErrorCode } from './errors';
export type * from './types';
export { loadMusicWav, decodeWav, linearToAlaw, linearToUlaw, type EncodedMusic } from './g711';
