import Foundation
import Hummingbird
import HummingbirdTesting
import Swann
import SwannServer
import SwannTestSupport

/// A search service over the bundled example, and helpers to talk to it.
enum ServerFixture {
    static let index: Index = try! Index.open(at: BundledExample.index)
    static let queries = BundledExample.queryRows

    /// A ready service over the example index.
    static func service(_ adjust: (inout ServerConfiguration) -> Void = { _ in }) -> SearchService {
        var configuration = ServerConfiguration()
        // Free ports: fixed ones collide with anything else on the machine.
        configuration.httpPort = 0
        configuration.tcpPort = 0
        adjust(&configuration)
        let service = SearchService(configuration: configuration)
        service.attach(index)
        return service
    }

    /// A ready service over a private, writable copy of the example index.
    static func writableService(_ adjust: (inout ServerConfiguration) -> Void = { _ in }) throws -> SearchService {
        let copy = TestDirectory.make("writable") + "/example.swann"
        try FileManager.default.copyItem(atPath: BundledExample.index, toPath: copy)
        let service = service(adjust)
        service.attach(try LiveIndex.open(at: copy))
        return service
    }

    /// A service that opened a private, writable copy of the example index by path, as
    /// `swann serve` does (so it can reload); returns the copy's path too.
    static func loadedService(_ adjust: (inout ServerConfiguration) -> Void = { _ in }) async throws -> (SearchService, String) {
        let copy = TestDirectory.make("loaded") + "/example.swann"
        try FileManager.default.copyItem(atPath: BundledExample.index, toPath: copy)
        var configuration = ServerConfiguration()
        configuration.httpPort = 0
        configuration.tcpPort = 0
        adjust(&configuration)
        let service = SearchService(configuration: configuration)
        try await service.load(path: copy)
        return (service, copy)
    }

    /// Runs `body` against the HTTP router of `service` without sockets.
    static func withRouter<T: Sendable>(
        _ service: SearchService,
        _ body: @Sendable (any TestClientProtocol) async throws -> T
    ) async throws -> T {
        let app = Application(router: HTTPAPI.router(service: service))
        defer { Task { await service.shutdown() } }
        return try await app.test(.router, body)
    }

    static func json(_ object: Any) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    static func object(_ buffer: ByteBuffer) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any]
    }

    static let jsonHeaders: HTTPFields = [.contentType: "application/json"]
}
