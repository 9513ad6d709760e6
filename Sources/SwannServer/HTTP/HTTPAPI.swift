import Foundation
public import Hummingbird
import NIOCore
import Swann
import SwannProtocol

/// The HTTP/JSON API (docs/API.md, docs/openapi.yaml):
///
/// | route                    | answer                                             |
/// |--------------------------|----------------------------------------------------|
/// | `POST /v1/search`        | the k nearest neighbours of one vector             |
/// | `POST /v1/search/batch`  | the k nearest neighbours of each of many vectors   |
/// | `GET /v1/index`          | dimension, metric, counts, build parameters        |
/// | `PUT /v1/points`         | upsert points (`?wait=true` by default: durable)   |
/// | `POST /v1/points/delete` | delete points by id                                |
/// | `GET /v1/points/{id}`    | the vector stored under an id                      |
/// | `POST /v1/admin/reload`  | serve a (re)built index in place of the current one |
/// | `POST /v1/admin/checkpoint` | fold the writes into the index files now        |
/// | `POST /v1/admin/rebalance` | pause or resume rebalancing (`{"paused": true}`) |
/// | `GET /healthz`           | 200 while the process runs                         |
/// | `GET /readyz`            | 200 once the index is open and warmed, else 503    |
/// | `GET /metrics`           | Prometheus text format                             |
///
/// Handlers only translate: JSON in, `SearchService` call, JSON out. Errors of every kind
/// leave as `{"error": {"code", "message"}}` through `ErrorMiddleware`.
public enum HTTPAPI {
    /// `swann serve`'s router for `service` (a local index or a shard router): `routes(service:)`
    /// at the root, with JSON errors (and API keys) for unknown paths too.
    public static func router(service: some SearchBackend) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.addRoutes(routes(service: service))
        // Router middleware wraps the routes added after it and the not-found responder: added
        // last, these apply to unknown paths only (the routes carry their own).
        router.add(middleware: ErrorMiddleware(metrics: service.metrics))
        if !service.configuration.apiKeys.isEmpty {
            router.add(middleware: APIKeyMiddleware(keys: APIKeys(service.configuration.apiKeys), requires: .read))
        }
        return router
    }

    /// Swann's routes for `service`, to mount in any Hummingbird application with its own
    /// request context:
    ///
    /// ```swift
    /// let router = Router(context: MyContext.self)
    /// router.addRoutes(HTTPAPI.routes(service: service, context: MyContext.self), atPath: "/vectors")
    /// ```
    ///
    /// The routes bring their own behaviour: JSON errors (`{"error": {"code", "message"}}`),
    /// request metrics, the API keys of `service.configuration` on every route but the probes
    /// (`/healthz`, `/readyz`) — a `read` key searches, a `write` key also writes points, an
    /// `admin` key also reloads — and 405 with `Allow` for a known path with the wrong method.
    public static func routes<Context: RequestContext>(
        service: some SearchBackend,
        context: Context.Type = BasicRequestContext.self
    ) -> RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.add(middleware: ErrorMiddleware(metrics: service.metrics))
        // Probes first: middleware added later does not wrap them, so they answer without a key.
        routes.get("/healthz") { _, _ in
            try json(["status": "ok"])
        }
        routes.get("/readyz") { _, _ in
            switch service.readiness {
            case .ready: return try json(["status": "ready"])
            case .loading: throw APIError(.serviceUnavailable, code: "not_ready", "the index is still loading")
            case .failed(let message): throw APIError(.serviceUnavailable, code: "not_ready", message)
            }
        }
        let keys = APIKeys(service.configuration.apiKeys)
        if !keys.isEmpty {
            routes.add(middleware: APIKeyMiddleware(keys: keys, requires: .read))
        }
        // Writes and administration check the key's role again, in groups of their own.
        let writes = routes.group()
        let administration = routes.group()
        if !keys.isEmpty {
            writes.add(middleware: APIKeyMiddleware(keys: keys, requires: .write))
            administration.add(middleware: APIKeyMiddleware(keys: keys, requires: .admin))
        }
        let limit = service.configuration.maxBodyBytes
        routes.post("/v1/search") { request, _ in
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
        routes.post("/v1/search/batch") { request, _ in
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
        routes.get("/v1/index") { _, _ in
            try json(try service.indexInfo())
        }
        writes.put("/v1/points") { request, _ in
            let started = ContinuousClock.now
            let durability = try request.durability()
            let body = try await decode(UpsertBody.self, from: request, limit: limit)
            try await service.upsert(body.points, durability: durability)
            return try json(WriteResponseJSON(durability: durability, count: body.points.count, tookMs: milliseconds(since: started)))
        }
        writes.post("/v1/points/delete") { request, _ in
            let started = ContinuousClock.now
            let durability = try request.durability()
            let body = try await decode(DeleteBody.self, from: request, limit: limit)
            let deleted = try await service.delete(body.ids, durability: durability)
            return try json(WriteResponseJSON(durability: durability, count: deleted, tookMs: milliseconds(since: started)))
        }
        routes.get("/v1/points/{id}") { _, context in
            let text = context.parameters.get("id") ?? ""
            guard let id = UInt64(text) else {
                throw APIError(.badRequest, code: "invalid_request", "point ids are unsigned 64-bit integers, got \"\(text.prefix(40))\"")
            }
            let point = try await service.point(id: id)
            return try json(PointJSON(id: point.id, vector: point.vector))
        }
        administration.post("/v1/admin/reload") { request, _ in
            let started = ContinuousClock.now
            // The body is optional: none (or `{}`) reloads the directory served now.
            var path: String?
            if request.headers[.contentLength].flatMap(Int.init) != 0 {
                try requireJSON(request)
                let buffer = try await readBody(of: request, limit: limit)
                if buffer.readableBytes > 0 { path = try decodeJSON(ReloadBody.self, from: buffer).path }
            }
            let info = try await service.reload(path: path)
            return try json(ReloadResponseJSON(status: "reloaded", index: info, tookMs: milliseconds(since: started)))
        }
        administration.post("/v1/admin/checkpoint") { _, _ in
            let started = ContinuousClock.now
            try await service.checkpoint()
            return try json(CheckpointResponseJSON(status: "checkpointed", tookMs: milliseconds(since: started)))
        }
        administration.post("/v1/admin/rebalance") { request, _ in
            let body = try await decode(RebalanceBody.self, from: request, limit: limit)
            let status = try await service.setRebalancing(paused: body.paused)
            return try json(RebalanceResponseJSON(status))
        }
        routes.get("/metrics") { _, _ in
            service.refreshMetrics()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: service.metrics.exposition()))
            )
        }
        addMethodNotAllowed(
            to: routes,
            routes: [
                "/v1/search": .post, "/v1/search/batch": .post, "/v1/index": .get,
                "/v1/points": .put, "/v1/points/delete": .post, "/v1/points/{id}": .get,
                "/v1/admin/reload": .post, "/v1/admin/checkpoint": .post, "/v1/admin/rebalance": .post,
                "/healthz": .get, "/readyz": .get, "/metrics": .get,
            ]
        )
        return routes
    }

    /// Hummingbird answers a known path with the wrong method as 404; clients deserve 405 and
    /// an `Allow` header.
    private static func addMethodNotAllowed<Context: RequestContext>(
        to routes: RouteCollection<Context>,
        routes paths: [String: HTTPRequest.Method]
    ) {
        for (path, allowed) in paths {
            for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] where method != allowed {
                routes.on(RouterPath(path), method: method) { request, _ -> Response in
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
        try requireJSON(request)
        return try decodeJSON(T.self, from: try await readBody(of: request, limit: limit))
    }

    /// A body must say it is JSON (or say nothing).
    static func requireJSON(_ request: Request) throws {
        if let contentType = request.headers[.contentType], !contentType.lowercased().hasPrefix("application/json") {
            throw APIError(
                .unsupportedMediaType,
                code: "unsupported_media_type",
                "Content-Type must be application/json, got \(contentType) (with curl: -H 'Content-Type: application/json')"
            )
        }
    }

    /// The whole body, at most `limit` bytes: 413 for more, whether the length is announced or
    /// the body is chunked; 400 for a body that ends early or is badly framed.
    static func readBody(of request: Request, limit: Int) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(.contentTooLarge, code: "body_too_large", "the body has \(length) bytes; this server accepts at most \(limit)")
        }
        let tooLarge = APIError(.contentTooLarge, code: "body_too_large", "the body exceeds this server's limit of \(limit) bytes")
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge
        } catch is NIOTooManyBytesError {
            // A chunked body has no length to check first: collecting it overflows instead.
            throw tooLarge
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(.badRequest, code: "invalid_request", "the request body could not be read: \(error)")
        }
    }

    /// Decodes a whole request body: what every JSON route does after reading it (and what the
    /// `json` fuzz target feeds).
    package static func decodeJSON<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        guard buffer.readableBytes > 0 else { throw APIError.invalidJSON("the request body is empty; send a JSON object") }
        if let duplicate = DuplicateKeyCheck.firstDuplicate(in: buffer.readableBytesView) {
            throw APIError.invalidJSON("the key \"\(duplicate.key)\" appears twice in one object (at byte \(duplicate.offset)); send each field once")
        }
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

/// Requires `Authorization: Bearer <key>` with one of the configured keys on the routes it
/// wraps (all but the probes). The scheme is case-insensitive (RFC 9110 §11.1).
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: APIKeys
    /// The least role that may pass.
    let requires: APIKeyRole

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw APIError(
                .unauthorized,
                code: "unauthorized",
                "this server requires an API key: Authorization: Bearer <key>",
                headers: [.wwwAuthenticate: "Bearer"]
            )
        }
        guard let token = Self.bearerToken(header), let role = keys.role(of: token) else {
            throw APIError(.unauthorized, code: "unauthorized", "the API key is not valid", headers: [.wwwAuthenticate: "Bearer"])
        }
        guard role >= requires else {
            throw APIError(
                .forbidden,
                code: "forbidden",
                "this API key has the role \(role.rawValue); \(request.method) \(request.uri.path) needs a key with the role \(requires.rawValue)"
            )
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
