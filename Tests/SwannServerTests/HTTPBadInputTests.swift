import Foundation
import Hummingbird
import HummingbirdTesting
import Swann
import SwannServer
import Testing

/// One malformed request and the answer it must get.
struct BadRequest: Sendable, CustomTestStringConvertible {
    var name: String
    var method: HTTPRequest.Method = .post
    var path = "/v1/search"
    var body: String
    var contentType = "application/json"
    var status: HTTPResponse.Status
    var code: String
    var testDescription: String { name }
}

/// A valid vector of the example's dimension, as JSON text.
private let goodVector = "[" + Array(repeating: "0.01", count: 384).joined(separator: ",") + "]"

private let badRequests: [BadRequest] = [
    .init(name: "malformed JSON", body: #"{"vector": [1, 2"#, status: .badRequest, code: "invalid_json"),
    .init(name: "duplicate key", body: #"{"vector": \#(goodVector), "k": 3, "k": 500}"#, status: .badRequest, code: "invalid_json"),
    .init(
        name: "duplicate key spelled with an escape",
        body: #"{"vector": \#(goodVector), "k": 3, "\u006b": 5}"#,
        status: .badRequest,
        code: "invalid_json"
    ),
    .init(
        name: "duplicate key in a nested object",
        body: #"{"vector": \#(goodVector), "params": {"max_postings": 2, "max_postings": 200}}"#,
        status: .badRequest,
        code: "invalid_json"
    ),
    .init(name: "truncated after a comma", body: #"{"vector": [0.1, 0.2],"#, status: .badRequest, code: "invalid_json"),
    .init(name: "array instead of object", body: "[1, 2, 3]", status: .badRequest, code: "invalid_json"),
    .init(name: "vector is a string", body: #"{"vector": "abc"}"#, status: .badRequest, code: "invalid_json"),
    .init(name: "k is a string", body: #"{"vector": \#(goodVector), "k": "10"}"#, status: .badRequest, code: "invalid_json"),
    .init(name: "k is fractional", body: #"{"vector": \#(goodVector), "k": 10.5}"#, status: .badRequest, code: "invalid_json"),
    .init(name: "k is zero", body: #"{"vector": \#(goodVector), "k": 0}"#, status: .badRequest, code: "invalid_request"),
    .init(name: "k is negative", body: #"{"vector": \#(goodVector), "k": -3}"#, status: .badRequest, code: "invalid_request"),
    .init(name: "k is huge", body: #"{"vector": \#(goodVector), "k": 1000000000000}"#, status: .badRequest, code: "invalid_request"),
    .init(
        name: "number beyond float range",
        body: #"{"vector": [1e400\#(String(goodVector.dropFirst(5)))}"#,
        status: .badRequest,
        code: "invalid_json"
    ),
    .init(name: "NaN as a string", body: #"{"vector": ["NaN"\#(String(goodVector.dropFirst(5)))}"#, status: .badRequest, code: "invalid_json"),
    .init(
        name: "a component whose distances overflow float32",
        body: #"{"vector": [1e30\#(String(goodVector.dropFirst(5)))}"#,
        status: .badRequest,
        code: "invalid_request"
    ),
    .init(name: "empty vector", body: #"{"vector": []}"#, status: .badRequest, code: "invalid_request"),
    .init(name: "wrong dimension", body: #"{"vector": [0.1, 0.2, 0.3]}"#, status: .badRequest, code: "invalid_request"),
    .init(
        name: "a 1 MB vector",
        body: #"{"vector": [\#(Array(repeating: "0.5", count: 262_144).joined(separator: ","))]}"#,
        status: .badRequest,
        code: "invalid_request"
    ),
    .init(name: "null vector", body: #"{"vector": null}"#, status: .badRequest, code: "invalid_json"),
    .init(name: "nested vector", body: #"{"vector": [[1]]}"#, status: .badRequest, code: "invalid_json"),
    .init(name: "missing vector", body: #"{"k": 10}"#, status: .badRequest, code: "invalid_json"),
    .init(name: "both vector and query", body: #"{"vector": \#(goodVector), "query": \#(goodVector)}"#, status: .badRequest, code: "invalid_json"),
    .init(name: "unknown field", body: #"{"vectr": \#(goodVector)}"#, status: .badRequest, code: "invalid_json"),
    .init(name: "unknown params field", body: #"{"vector": \#(goodVector), "params": {"nprobe": 4}}"#, status: .badRequest, code: "invalid_json"),
    .init(
        name: "ratio below 1",
        body: #"{"vector": \#(goodVector), "params": {"max_distance_ratio": 0.5}}"#,
        status: .badRequest,
        code: "invalid_request"
    ),
    .init(
        name: "zero max postings",
        body: #"{"vector": \#(goodVector), "params": {"max_postings": 0}}"#,
        status: .badRequest,
        code: "invalid_request"
    ),
    .init(
        name: "target recall with max postings",
        body: #"{"vector": \#(goodVector), "params": {"target_recall": 0.9, "max_postings": 8}}"#,
        status: .badRequest,
        code: "invalid_request"
    ),
    .init(
        name: "target recall above 1",
        body: #"{"vector": \#(goodVector), "params": {"target_recall": 1.5}}"#,
        status: .badRequest,
        code: "invalid_request"
    ),
    .init(name: "empty body", body: "", status: .badRequest, code: "invalid_json"),
    .init(
        name: "text/plain body",
        body: #"{"vector": \#(goodVector)}"#,
        contentType: "text/plain",
        status: .unsupportedMediaType,
        code: "unsupported_media_type"
    ),
    .init(
        name: "form-encoded body (curl -d default)",
        body: #"{"vector": \#(goodVector)}"#,
        contentType: "application/x-www-form-urlencoded",
        status: .unsupportedMediaType,
        code: "unsupported_media_type"
    ),
    .init(name: "GET on a POST route", method: .get, body: "", status: .methodNotAllowed, code: "method_not_allowed"),
    .init(name: "DELETE on the index", method: .delete, path: "/v1/index", body: "", status: .methodNotAllowed, code: "method_not_allowed"),
    .init(name: "unknown route", path: "/v2/search", body: "{}", status: .notFound, code: "not_found"),
    .init(
        name: "ragged batch",
        path: "/v1/search/batch",
        body: #"{"queries": [\#(goodVector), [1, 2]]}"#,
        status: .badRequest,
        code: "invalid_request"
    ),
    .init(name: "empty batch", path: "/v1/search/batch", body: #"{"queries": []}"#, status: .badRequest, code: "invalid_request"),
    .init(
        name: "batch of 100k queries",
        path: "/v1/search/batch",
        body: #"{"queries": [\#(Array(repeating: "[0.5]", count: 100_000).joined(separator: ","))]}"#,
        status: .contentTooLarge,
        code: "too_large"
    ),
    .init(
        name: "batch with unknown field",
        path: "/v1/search/batch",
        body: #"{"queries": [\#(goodVector)], "top": 3}"#,
        status: .badRequest,
        code: "invalid_json"
    ),
]

struct HTTPBadInputTests {
    static let service = ServerFixture.service()

    @Test(arguments: badRequests)
    func refusedWithTheRightStatusAndAJSONError(_ bad: BadRequest) async throws {
        try await ServerFixture.withRouter(ServerFixture.service()) { client in
            try await client.execute(
                uri: bad.path,
                method: bad.method,
                headers: [.contentType: bad.contentType],
                body: ByteBuffer(string: bad.body)
            ) { response in
                #expect(response.status == bad.status, "\(String(buffer: response.body))")
                let error = try #require(ServerFixture.object(response.body)?["error"] as? [String: Any], "\(String(buffer: response.body))")
                #expect(error["code"] as? String == bad.code, "\(error)")
                #expect((error["message"] as? String)?.isEmpty == false)
            }
            // The same server answers a good request afterwards.
            try await client.execute(
                uri: "/v1/search",
                method: .post,
                headers: ServerFixture.jsonHeaders,
                body: ByteBuffer(string: #"{"vector": \#(goodVector)}"#)
            ) { #expect($0.status == .ok) }
        }
    }

    @Test func bodyOverTheLimitIs413() async throws {
        let service = ServerFixture.service { $0.maxBodyBytes = 1_024 }
        try await ServerFixture.withRouter(service) { client in
            try await client.execute(
                uri: "/v1/search",
                method: .post,
                headers: ServerFixture.jsonHeaders,
                body: ByteBuffer(string: #"{"vector": \#(goodVector)}"#)
            ) { response in
                #expect(response.status == .contentTooLarge)
                #expect(String(buffer: response.body).contains("body_too_large"))
            }
        }
    }

    @Test func messagesNameTheProblem() async throws {
        try await ServerFixture.withRouter(ServerFixture.service()) { client in
            try await client.execute(
                uri: "/v1/search",
                method: .post,
                headers: ServerFixture.jsonHeaders,
                body: ByteBuffer(string: #"{"vector": [0.1, 0.2, 0.3]}"#)
            ) { response in
                #expect(String(buffer: response.body).contains("dimension 3, the index has 384"))
            }
            try await client.execute(
                uri: "/v1/search",
                method: .post,
                headers: ServerFixture.jsonHeaders,
                body: ByteBuffer(string: #"{"vector": \#(goodVector), "max_postings": 3}"#)
            ) { response in
                #expect(String(buffer: response.body).contains(#"unknown field \"max_postings\""#), "\(String(buffer: response.body))")
            }
        }
    }
}
