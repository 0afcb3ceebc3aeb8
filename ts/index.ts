export * from './media';
