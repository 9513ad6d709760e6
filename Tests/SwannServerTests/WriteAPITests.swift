import Foundation
import Hummingbird
import HummingbirdTesting
import SwannProtocol
import SwannServer
import SwannTestSupport
import Testing

/// `PUT /v1/points`, `POST /v1/points/delete`, `GET /v1/points/{id}`: writes are visible to the
/// next search, bad writes are 4xx and change nothing, a read-only server refuses them.
struct WriteAPITests {
    static func send(
        _ client: any TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ uri: String,
        _ body: Any? = nil
    ) async throws -> (
        HTTPResponse.Status, [String: Any]
    ) {
        try await client.execute(uri: uri, method: method, headers: ServerFixture.jsonHeaders, body: body.map { ServerFixture.json($0) }) {
            ($0.status, ServerFixture.object($0.body) ?? [:])
        }
    }

    static func errorCode(_ body: [String: Any]) -> String? { (body["error"] as? [String: Any])?["code"] as? String }

    @Test func upsertSearchGetDelete() async throws {
        let service = try ServerFixture.writableService()
        let vector = ServerFixture.queries[3].map { Double($0) }
        try await ServerFixture.withRouter(service) { client in
            let (status, body) = try await Self.send(client, .put, "/v1/points?wait=true", ["points": [["id": 777_777, "vector": vector]]])
            #expect(status == .ok)
            #expect(body["status"] as? String == "completed")
            let (_, search) = try await Self.send(client, .post, "/v1/search", ["vector": vector, "k": 1])
            #expect(((search["results"] as? [[String: Any]])?.first?["id"] as? Int) == 777_777)
            let (got, point) = try await Self.send(client, .get, "/v1/points/777777")
            #expect(got == .ok)
            #expect((point["vector"] as? [Double])?.count == vector.count)
            let (deleted, deleteBody) = try await Self.send(client, .post, "/v1/points/delete?wait=false", ["points": [777_777, 123_456_789]])
            #expect(deleted == .ok)
            #expect(deleteBody["count"] as? Int == 1)
            #expect(deleteBody["status"] as? String == "acknowledged")
            let (gone, goneBody) = try await Self.send(client, .get, "/v1/points/777777")
            #expect(gone == .notFound)
            #expect(Self.errorCode(goneBody) == "not_found")
            let (_, after) = try await Self.send(client, .post, "/v1/search", ["vector": vector, "k": 10])
            #expect(!((after["results"] as? [[String: Any]]) ?? []).contains { $0["id"] as? Int == 777_777 })
        }
    }

    @Test func badWritesAre4xxAndChangeNothing() async throws {
        let service = try ServerFixture.writableService { $0.maxWriteBatch = 2 }
        let vector = ServerFixture.queries[0].map { Double($0) }
        let before = try service.indexInfo().vectorCount
        try await ServerFixture.withRouter(service) { client in
            let cases: [(Any, HTTPResponse.Status, String)] = [
                (["points": [["id": 1, "vector": [1, 2, 3]]]], .badRequest, "invalid_request"),
                (["points": [["id": "abc", "vector": vector]]], .badRequest, "invalid_json"),
                (["points": [["id": -1, "vector": vector]]], .badRequest, "invalid_json"),
                (["points": [["id": 1, "vector": vector, "payload": 1]]], .badRequest, "invalid_json"),
                (
                    ["points": [["id": 1, "vector": vector], ["id": 2, "vector": vector], ["id": 3, "vector": vector]]], .contentTooLarge, "too_large"
                ),
                (["points": []], .badRequest, "invalid_request"),
                (["vectors": []], .badRequest, "invalid_json"),
            ]
            for (body, expected, code) in cases {
                let (status, answer) = try await Self.send(client, .put, "/v1/points", body)
                #expect(status == expected, "\(body)")
                #expect(Self.errorCode(answer) == code, "\(body): \(answer)")
            }
            // A batch with one bad vector (the second's distances would overflow float32) stores neither.
            var huge = vector
            huge[0] = 1e30
            let (status, _) = try await Self.send(
                client,
                .put,
                "/v1/points",
                ["points": [["id": 900_001, "vector": vector], ["id": 900_002, "vector": huge]]]
            )
            #expect(status == .badRequest)
            let (missing, _) = try await Self.send(client, .get, "/v1/points/900001")
            #expect(missing == .notFound)
            let (badID, _) = try await Self.send(client, .get, "/v1/points/seven")
            #expect(badID == .badRequest)
            let (badWait, _) = try await Self.send(client, .put, "/v1/points?wait=soon", ["points": [["id": 5, "vector": vector]]])
            #expect(badWait == .badRequest)
        }
        #expect(try service.indexInfo().vectorCount == before)
    }

    @Test func aReadOnlyServerRefusesWrites() async throws {
        let service = ServerFixture.service { $0.readOnly = true }
        let vector = ServerFixture.queries[0].map { Double($0) }
        try await ServerFixture.withRouter(service) { client in
            let (status, body) = try await Self.send(client, .put, "/v1/points", ["points": [["id": 1, "vector": vector]]])
            #expect(status == .forbidden)
            #expect(Self.errorCode(body) == "read_only")
            let (deleteStatus, _) = try await Self.send(client, .post, "/v1/points/delete", ["points": [1]])
            #expect(deleteStatus == .forbidden)
            // Reads still work.
            let (got, _) = try await Self.send(client, .get, "/v1/points/1")
            #expect(got == .ok)
        }
    }
}
