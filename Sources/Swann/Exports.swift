// The one import an embedding service needs: `import Swann` brings the public vector types,
// search parameters and results, exact search and vector file readers along. Kernels, stores
// and on-disk types are `package` or `@_spi(Engine)` (not re-exported here; Swann's own files
// that inline them import SwannCore with `@_spi(Engine)`): docs/PUBLIC-API.md lists what is public.
@_exported public import SwannCore
@_exported public import SwannStorage
