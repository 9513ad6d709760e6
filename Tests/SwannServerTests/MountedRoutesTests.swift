import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Swann
import SwannProtocol
import SwannServer
import SwannTestSupport
import Testing

/// A user's own Hummingbird application, with its own request context and routes, mounting
/// Swann's routes under a prefix (what the README promises embedders).
struct MountedRoutesTests {
    /// The embedding application's context: a field of its own, beside Hummingbird's storage.
    struct AppContext: RequestContext {
        var coreContext: CoreRequestContextStorage
        var tenant: String

        init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            tenant = "acme"
        }
    }

    static func app(_ service: SearchService) -> some ApplicationProtocol {
        let router = Router(context: AppContext.self)
        router.get("/hello") { _, context in "hello \(context.tenant)" }
        router.addRoutes(HTTPAPI.routes(service: service, context: AppContext.self), atPath: "/vectors")
        return Application(router: router)
    }

    @Test func aUsersAppServesSwannsRoutesBesideItsOwn() async throws {
        let service = ServerFixture.service()
        defer { Task { await service.shutdown() } }
        let query = ServerFixture.queries[2]
        let expected = try ServerFixture.index.search(query, k: 5).map(\.id)
        try await Self.app(service).test(.router) { client in
            try await client.execute(uri: "/hello", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "hello acme")
            }
            try await client.execute(
                uri: "/vectors/v1/search",
                method: .post,
                headers: ServerFixture.jsonHeaders,
                body: ServerFixture.json(["vector": query, "k": 5])
            ) { response in
                #expect(response.status == .ok)
                let object = try #require(ServerFixture.object(response.body))
                let results = try #require(object["results"] as? [[String: Any]])
                #expect(results.map { $0["id"] as? Int64 } == expected)
            }
            try await client.execute(uri: "/vectors/v1/index", method: .get) { response in
                let info = try JSONDecoder().decode(IndexInfo.self, from: Data(response.body.readableBytesView))
                #expect(info == IndexInfo(ServerFixture.index))
            }
            // Swann's errors and 405s come along with the routes.
            try await client.execute(uri: "/vectors/v1/search", method: .post, headers: ServerFixture.jsonHeaders, body: ByteBuffer(string: "{")) {
                response in
                #expect(response.status == .badRequest)
                let error = try #require(ServerFixture.object(response.body)?["error"] as? [String: Any])
                #expect(error["code"] as? String == "invalid_json")
            }
            try await client.execute(uri: "/vectors/v1/search", method: .get) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "POST")
            }
        }
    }

    @Test func mountedRoutesKeepTheirKeysButNotOnTheProbes() async throws {
        let service = ServerFixture.service { $0.apiKeys = ["s3cret": .write] }
        defer { Task { await service.shutdown() } }
        try await Self.app(service).test(.router) { client in
            try await client.execute(uri: "/vectors/v1/index", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/vectors/v1/index", method: .get, headers: [.authorization: "Bearer s3cret"]) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/vectors/readyz", method: .get) { response in
                #expect(response.status == .ok)
            }
            // The application's own routes are its business.
            try await client.execute(uri: "/hello", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }
}
