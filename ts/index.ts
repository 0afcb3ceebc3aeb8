export * from './media';
export * from './sdp';
