// The one import an embedding service needs: `import Swann` brings the vector types, kernels,
// exact search and file readers along.
@_exported public import SwannCore
@_exported public import SwannStorage
