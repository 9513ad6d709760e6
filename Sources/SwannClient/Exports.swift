// `import SwannClient` brings the protocol's message types (SearchResponse, Neighbor, …) along.
@_exported public import SwannCore
@_exported public import SwannProtocol
