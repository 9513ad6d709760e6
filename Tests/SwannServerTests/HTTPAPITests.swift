import Foundation
import Hummingbird
import HummingbirdTesting
import Swann
import SwannServer
import SwannTestSupport
import Testing

/// Every route of the HTTP API through the router, without sockets.
struct HTTPAPITests {
    @Test func searchAnswersLikeTheLibrary() async throws {
        let query = ServerFixture.queries[3]
        let expected = try ServerFixture.index.search(query, k: 10)
        try await ServerFixture.withRouter(ServerFixture.service()) { client in
            try await client.execute(
                uri: "/v1/search",
                method: .post,
                headers: ServerFixture.jsonHeaders,
                body: ServerFixture.json(["vector": query, "k": 10])
            ) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let object = try #require(ServerFixture.object(response.body))
                let results = try #require(object["results"] as? [[String: Any]])
                #expect(results.map { $0["id"] as? Int64 } == expected.map(\.id))
                for (hit, neighbor) in zip(results, expected) {
                    #expect(abs((hit["distance"] as? Double ?? -1) - Double(neighbor.distance)) < 1e-5)
                }
                #expect(object["took_ms"] is Double)
                #expect(object["stats"] == nil)
            }
        }
    }

    @Test func qdrantSpellingsStatsAndOverrides() async throws {
        let query = ServerFixture.queries[5]
        try await ServerFixture.withRouter(ServerFixture.service()) { client in
            let body: [String: Any] = [
                "query": query, "limit": 3, "with_stats": true, "params": ["max_postings": 2, "max_distance_ratio": NSNull()],
            ]
            try await client.execute(uri: "/v1/search", method: .post, headers: ServerFixture.jsonHeaders, body: ServerFixture.json(body)) {
                response in
                #expect(response.status == .ok)
                let object = try #require(ServerFixture.object(response.body))
                #expect((object["results"] as? [Any])?.count == 3)
                let stats = try #require(object["stats"] as? [String: Any])
                #expect(stats["postings_read"] as? Int == 2)
                #expect((stats["bytes_read"] as? Int ?? 0) > 0)
            }
        }
    }

    @Test func aTargetRecallReadsTheListsTheCalibrationChose() async throws {
        let query = ServerFixture.queries[5]
        let expected = try ServerFixture.index.parameters(targetRecall: 0.9).maxPostings
        try await ServerFixture.withRouter(ServerFixture.service()) { client in
            let body: [String: Any] = [
                "vector": query, "k": 10, "with_stats": true, "params": ["target_recall": 0.9, "max_distance_ratio": NSNull()],
            ]
            try await client.execute(uri: "/v1/search", method: .post, headers: ServerFixture.jsonHeaders, body: ServerFixture.json(body)) {
                response in
                #expect(response.status == .ok)
                let object = try #require(ServerFixture.object(response.body))
                let stats = try #require(object["stats"] as? [String: Any])
                #expect(stats["postings_read"] as? Int == expected, "pruning off: exactly the chosen \(expected) lists")
            }
        }
    }

    @Test func batchAnswersEachQueryInOrder() async throws {
        let queries = Array(ServerFixture.queries[0..<7])
        let expected = try queries.map { try ServerFixture.index.search($0, k: 5).map(\.id) }
        try await ServerFixture.withRouter(ServerFixture.service()) { client in
            try await client.execute(
                uri: "/v1/search/batch",
                method: .post,
                headers: ServerFixture.jsonHeaders,
                body: ServerFixture.json(["queries": queries, "k": 5, "with_stats": true])
            ) { response in
                #expect(response.status == .ok)
                let object = try #require(ServerFixture.object(response.body))
                let results = try #require(object["results"] as? [[[String: Any]]])
                #expect(results.map { $0.map { $0["id"] as? Int64 } } == expected)
                #expect((object["stats"] as? [Any])?.count == 7)
            }
        }
    }

    @Test func indexHealthReadyAndMetrics() async throws {
        try await ServerFixture.withRouter(ServerFixture.service()) { client in
            try await client.execute(uri: "/v1/index", method: .get) { response in
                #expect(response.status == .ok)
                let object = try #require(ServerFixture.object(response.body))
                #expect(object["dimension"] as? Int == 384)
                #expect(object["metric"] as? String == "l2")
                #expect(object["vector_count"] as? Int == 10_000)
                #expect((object["build"] as? [String: Any]) != nil)
            }
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(
                uri: "/v1/search",
                method: .post,
                headers: ServerFixture.jsonHeaders,
                body: ServerFixture.json(["vector": ServerFixture.queries[0]])
            )
            try await client.execute(uri: "/nope", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains(#"swann_requests_total{frontend="http",route="/v1/search",status="200"} 1"#), "\(text)")
                #expect(text.contains(#"status="404""#))
                #expect(text.contains("swann_postings_read_total"))
                #expect(text.contains("swann_request_duration_seconds_bucket"))
                #expect(text.contains("swann_index_vectors 10000"))
                #expect(text.contains("swann_in_flight_requests"))
            }
        }
    }

    @Test func notReadyUntilTheIndexIsAttached() async throws {
        let service = SearchService(configuration: ServerConfiguration())
        try await ServerFixture.withRouter(service) { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .serviceUnavailable) }
            try await client.execute(
                uri: "/v1/search",
                method: .post,
                headers: ServerFixture.jsonHeaders,
                body: ServerFixture.json(["vector": [1.0]])
            ) { response in
                #expect(response.status == .serviceUnavailable)
                #expect((ServerFixture.object(response.body)?["error"] as? [String: Any])?["code"] as? String == "not_ready")
            }
        }
    }

    @Test func overloadIsRefusedWithA503() async throws {
        // Two search threads split a batch of two into two jobs; one pending job is the limit.
        let service = ServerFixture.service {
            $0.maxPendingSearches = 1
            $0.searchThreads = 2
        }
        try await ServerFixture.withRouter(service) { client in
            try await client.execute(
                uri: "/v1/search/batch",
                method: .post,
                headers: ServerFixture.jsonHeaders,
                body: ServerFixture.json(["queries": Array(ServerFixture.queries[0..<2])])
            ) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "1")
                #expect(String(buffer: response.body).contains("overloaded"))
            }
            // A single query is one job and still fits.
            try await client.execute(
                uri: "/v1/search",
                method: .post,
                headers: ServerFixture.jsonHeaders,
                body: ServerFixture.json(["vector": ServerFixture.queries[0]])
            ) { #expect($0.status == .ok) }
        }
    }

    @Test func apiKeysGuardEverythingButTheProbes() async throws {
        let service = ServerFixture.service { $0.apiKeys = ["s3cret": .write, "other": .read] }
        try await ServerFixture.withRouter(service) { client in
            let body = ServerFixture.json(["vector": ServerFixture.queries[0]])
            try await client.execute(uri: "/v1/search", method: .post, headers: ServerFixture.jsonHeaders, body: body) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
            var wrong = ServerFixture.jsonHeaders
            wrong[.authorization] = "Bearer s3cre"
            try await client.execute(uri: "/v1/search", method: .post, headers: wrong, body: body) { #expect($0.status == .unauthorized) }
            var right = ServerFixture.jsonHeaders
            right[.authorization] = "Bearer s3cret"
            try await client.execute(uri: "/v1/search", method: .post, headers: right, body: body) { #expect($0.status == .ok) }
            // The scheme is case-insensitive; another scheme with the right key is not a bearer token.
            for (header, status) in [("bearer s3cret", HTTPResponse.Status.ok), ("BEARER  other", .ok), ("Basic s3cret", .unauthorized)] {
                var headers = ServerFixture.jsonHeaders
                headers[.authorization] = header
                try await client.execute(uri: "/v1/search", method: .post, headers: headers, body: body) { #expect($0.status == status, "\(header)") }
            }
            try await client.execute(uri: "/v1/index", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
        }
    }
}
