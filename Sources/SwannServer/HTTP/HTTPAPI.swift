import Foundation
public import Hummingbird
import Swann
import SwannProtocol

/// The HTTP/JSON API (docs/API.md, docs/openapi.yaml):
///
/// | route                    | answer                                             |
/// |--------------------------|----------------------------------------------------|
/// | `POST /v1/search`        | the k nearest neighbours of one vector             |
/// | `POST /v1/search/batch`  | the k nearest neighbours of each of many vectors   |
/// | `GET /v1/index`          | dimension, metric, counts, build parameters        |
/// | `GET /healthz`           | 200 while the process runs                         |
/// | `GET /readyz`            | 200 once the index is open and warmed, else 503    |
/// | `GET /metrics`           | Prometheus text format                             |
///
/// Handlers only translate: JSON in, `SearchService` call, JSON out. Errors of every kind
/// leave as `{"error": {"code", "message"}}` through `ErrorMiddleware`.
public enum HTTPAPI {
    /// Routes that answer without an API key (orchestrator probes).
    static let openRoutes: Set<String> = ["/healthz", "/readyz"]

    /// The router for `service`: a local index or a shard router.
    public static func router(service: some SearchBackend) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorMiddleware(metrics: service.metrics))
        if !service.configuration.apiKeys.isEmpty {
            router.add(middleware: APIKeyMiddleware(keys: APIKeys(service.configuration.apiKeys), openRoutes: openRoutes))
        }
        let limit = service.configuration.maxBodyBytes
        router.post("/v1/search") { request, _ in
            let started = ContinuousClock.now
            let body = try await decode(SearchBody.self, from: request, limit: limit)
            let response = try await service.search(body.request)
            return try json(
                SearchResponseJSON(
                    results: response.neighbors.map { HitJSON(id: $0.id, distance: $0.distance) },
                    tookMs: milliseconds(since: started),
                    stats: body.withStats ? StatsJSON(response.statistics) : nil,
                    partial: response.partial ? true : nil
                )
            )
        }
        router.post("/v1/search/batch") { request, _ in
            let started = ContinuousClock.now
            let body = try await decode(BatchSearchBody.self, from: request, limit: limit)
            let responses = try await service.search(body.request)
            return try json(
                BatchSearchResponseJSON(
                    results: responses.map { $0.neighbors.map { HitJSON(id: $0.id, distance: $0.distance) } },
                    tookMs: milliseconds(since: started),
                    stats: body.withStats ? responses.map { StatsJSON($0.statistics) } : nil,
                    partial: responses.contains(where: \.partial) ? true : nil
                )
            )
        }
        router.get("/v1/index") { _, _ in
            try json(try service.indexInfo())
        }
        router.get("/healthz") { _, _ in
            try json(["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            switch service.readiness {
            case .ready: return try json(["status": "ready"])
            case .loading: throw APIError(.serviceUnavailable, code: "not_ready", "the index is still loading")
            case .failed(let message): throw APIError(.serviceUnavailable, code: "not_ready", message)
            }
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: service.metrics.exposition()))
            )
        }
        addMethodNotAllowed(
            to: router,
            routes: [
                "/v1/search": .post, "/v1/search/batch": .post, "/v1/index": .get,
                "/healthz": .get, "/readyz": .get, "/metrics": .get,
            ]
        )
        return router
    }

    /// Hummingbird answers a known path with the wrong method as 404; clients deserve 405 and
    /// an `Allow` header.
    private static func addMethodNotAllowed(to router: Router<BasicRequestContext>, routes: [String: HTTPRequest.Method]) {
        for (path, allowed) in routes {
            for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] where method != allowed {
                router.on(RouterPath(path), method: method) { request, _ -> Response in
                    throw APIError(
                        .methodNotAllowed,
                        code: "method_not_allowed",
                        "\(path) accepts \(allowed) only, not \(request.method)",
                        headers: [.allow: allowed.rawValue]
                    )
                }
            }
        }
    }

    /// Reads at most `limit` body bytes and decodes them, insisting on JSON.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        if let contentType = request.headers[.contentType], !contentType.lowercased().hasPrefix("application/json") {
            throw APIError(
                .unsupportedMediaType,
                code: "unsupported_media_type",
                "Content-Type must be application/json, got \(contentType) (with curl: -H 'Content-Type: application/json')"
            )
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(.contentTooLarge, code: "body_too_large", "the body has \(length) bytes; this server accepts at most \(limit)")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, code: "body_too_large", "the body exceeds this server's limit of \(limit) bytes")
        }
        return try decodeJSON(T.self, from: buffer)
    }

    /// Decodes a whole request body: what every JSON route does after reading it (and what the
    /// `json` fuzz target feeds).
    package static func decodeJSON<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        guard buffer.readableBytes > 0 else { throw APIError.invalidJSON("the request body is empty; send a JSON object") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw APIError.decoding(error)
        }
    }

    static func json(_ value: some Encodable) throws -> Response {
        // Sorted keys: the same answer is the same bytes (diffable, cacheable).
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(value)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Double {
        (ContinuousClock.now - start).seconds * 1000
    }
}

/// Requires `Authorization: Bearer <key>` with one of the configured keys on every route but
/// the probes. The scheme is case-insensitive (RFC 9110 §11.1).
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: APIKeys
    let openRoutes: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if openRoutes.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            throw APIError(
                .unauthorized,
                code: "unauthorized",
                "this server requires an API key: Authorization: Bearer <key>",
                headers: [.wwwAuthenticate: "Bearer"]
            )
        }
        guard let token = Self.bearerToken(header), keys.matches(token) else {
            throw APIError(.unauthorized, code: "unauthorized", "the API key is not valid", headers: [.wwwAuthenticate: "Bearer"])
        }
        return try await next(request, context)
    }

    /// The token of a `Bearer` credential, whatever the scheme's case; nil for other schemes.
    static func bearerToken(_ header: String) -> Substring? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].drop(while: { $0 == " " })
    }
}
