/** `modelctl serve` as a library: the Open Inference Protocol and the registry over HTTP. */
export { startServer, type ServeOptions, type ServeEvent, type RunningServer } from './server.js';
export { openApiDocument } from './openapi.js';
