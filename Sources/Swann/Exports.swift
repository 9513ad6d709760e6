// The one import an embedding service needs: `import Swann` brings the public vector types,
// search parameters and results, exact search and vector file readers along. Kernels, stores
// and on-disk types are `package`: docs/PUBLIC-API.md lists what is public.
@_exported @_spi(Engine) public import SwannCore
@_exported public import SwannStorage
