import Foundation
import Hummingbird
import HummingbirdTesting
import Swann
import SwannProtocol
import SwannServer
import SwannTestSupport
import Testing

/// API key roles (read, write, admin) and `POST /v1/admin/reload`.
struct KeysAndReloadTests {
    static func send(
        _ client: any TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ uri: String,
        key: String? = nil,
        _ body: Any? = nil
    ) async throws -> (HTTPResponse.Status, [String: Any]) {
        var headers = ServerFixture.jsonHeaders
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ServerFixture.json($0) }) {
            ($0.status, ServerFixture.object($0.body) ?? [:])
        }
    }

    static func errorCode(_ body: [String: Any]) -> String? { (body["error"] as? [String: Any])?["code"] as? String }

    @Test func keyRolesGateWritesAndReloads() async throws {
        let (service, _) = try await ServerFixture.loadedService { $0.apiKeys = ["reader": .read, "writer": .write, "operator": .admin] }
        let vector = ServerFixture.queries[1].map { Double($0) }
        try await ServerFixture.withRouter(service) { client in
            let point = ["points": [["id": 555_001, "vector": vector]]]
            #expect(try await Self.send(client, .post, "/v1/search", key: "reader", ["vector": vector]).0 == .ok)
            #expect(try await Self.send(client, .get, "/v1/points/3", key: "reader").0 == .ok)
            let (refused, body) = try await Self.send(client, .put, "/v1/points", key: "reader", point)
            #expect(refused == .forbidden)
            #expect(Self.errorCode(body) == "forbidden")
            #expect(
                (body["error"] as? [String: Any])?["message"] as? String ?? ""
                    == "this API key has the role read; PUT /v1/points needs a key with the role write"
            )
            #expect(try await Self.send(client, .post, "/v1/points/delete", key: "reader", ["points": [1]]).0 == .forbidden)
            #expect(try await Self.send(client, .get, "/v1/points/555001", key: "reader").0 == .notFound, "the refused write stored nothing")
            #expect(try await Self.send(client, .put, "/v1/points", key: "writer", point).0 == .ok)
            #expect(try await Self.send(client, .post, "/v1/admin/reload", key: "writer").0 == .forbidden)
            #expect(try await Self.send(client, .post, "/v1/admin/reload", key: "nobody").0 == .unauthorized)
            #expect(try await Self.send(client, .post, "/v1/admin/reload").0 == .unauthorized)
            let (reloaded, answer) = try await Self.send(client, .post, "/v1/admin/reload", key: "operator")
            #expect(reloaded == .ok, "\(answer)")
            #expect(answer["status"] as? String == "reloaded")
            #expect((answer["index"] as? [String: Any])?["vector_count"] as? Int == 10_001)
            // An admin key may also write and search.
            #expect(try await Self.send(client, .post, "/v1/points/delete", key: "operator", ["points": [555_001]]).0 == .ok)
        }
    }

    @Test func reloadKeepsAcknowledgedWritesAndABrokenIndexLeavesTheOldOneServing() async throws {
        let (service, path) = try await ServerFixture.loadedService()
        let vector = ServerFixture.queries[2].map { Double($0) }
        try await ServerFixture.withRouter(service) { client in
            #expect(try await Self.send(client, .put, "/v1/points?wait=false", ["points": [["id": 600_000, "vector": vector]]]).0 == .ok)
            let first = service.index
            let (status, _) = try await Self.send(client, .post, "/v1/admin/reload")
            #expect(status == .ok)
            #expect(service.index !== first, "a new index is served")
            #expect(service.index?.replayedRecords == 1, "the reopened index replayed the write from the log")
            #expect(try await Self.send(client, .get, "/v1/points/600000").0 == .ok)

            // A directory that is not an index, and one that does not exist: 422, old index kept.
            let broken = TestDirectory.make("broken-index")
            try Data("{}".utf8).write(to: URL(fileURLWithPath: broken + "/manifest.json"))
            for target in [broken, broken + "/missing"] {
                let (failed, body) = try await Self.send(client, .post, "/v1/admin/reload", ["path": target])
                #expect(failed == .unprocessableContent)
                #expect(Self.errorCode(body) == "reload_failed")
                let message = (body["error"] as? [String: Any])?["message"] as? String
                #expect(message?.contains(target) == true, "\(body)")
            }
            #expect(service.index?.path == path)
            let (search, hits) = try await Self.send(client, .post, "/v1/search", ["vector": vector, "k": 1])
            #expect(search == .ok)
            #expect(((hits["results"] as? [[String: Any]])?.first?["id"] as? Int) == 600_000)
            // The old index took its log back: writes go on.
            #expect(try await Self.send(client, .put, "/v1/points", ["points": [["id": 600_001, "vector": vector]]]).0 == .ok)
            #expect(try await Self.send(client, .get, "/v1/points/600001").0 == .ok)
            // Unknown fields are refused like everywhere else.
            #expect(try await Self.send(client, .post, "/v1/admin/reload", ["path": path, "force": true]).0 == .badRequest)
        }
    }

    @Test func aReloadWhileAnotherRunsIsAConflict() async throws {
        let (service, _) = try await ServerFixture.loadedService()
        let outcomes = await withTaskGroup(of: Result<Int, ServiceError>.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    do throws(ServiceError) { return .success(try await service.reload(path: nil).vectorCount) } catch { return .failure(error) }
                }
            }
            var outcomes: [Result<Int, ServiceError>] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        let succeeded = outcomes.filter { if case .success = $0 { true } else { false } }.count
        #expect(succeeded >= 1)
        for case .failure(let error) in outcomes { #expect(error.code == .conflict) }
        await service.shutdown()
    }
}
