// node:http loaded through require, not `import`. An ES import of a built-in module reads every
// export, and node:http's WebSocket, MessageEvent and CloseEvent are getters that load Node's
// bundled undici on first read: 12 MiB of RSS (2.6 MiB of heap) for code the operator never runs.
// require() returns the module object and leaves the getters unread.
import { createRequire } from 'node:module';

export const nodeHttp = createRequire(import.meta.url)('node:http') as typeof import('node:http');
