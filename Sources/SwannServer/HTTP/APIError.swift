import CoreMetrics
import Foundation
public import Hummingbird

/// An HTTP error answered as `{"error": {"code": "...", "message": "..."}}`.
///
/// Every failure of the HTTP front end ends up as one of these (`ErrorMiddleware` converts
/// the rest), so clients always get the same JSON shape with a specific message.
public struct APIError: HTTPResponseError, CustomStringConvertible {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// A stable snake_case code for programs (`invalid_request`, …).
    public var code: String
    /// What went wrong, for people.
    public var message: String
    /// Extra response headers (`Allow`, `WWW-Authenticate`).
    public var headers: HTTPFields

    /// An error answered with `status` and `{"error": {"code", "message"}}`.
    public init(_ status: HTTPResponse.Status, code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    /// A one-line description for logs and error messages.
    public var description: String { "\(status.code) \(code): \(message)" }

    /// The JSON error response.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = ErrorBody(error: .init(code: code, message: message))
        let data = try JSONEncoder().encode(body)
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    struct ErrorBody: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
        }
        var error: Detail
    }
}

extension APIError {
    init(_ error: ServiceError) {
        let status: HTTPResponse.Status =
            switch error.code {
            case .invalidRequest: .badRequest
            case .tooLarge: .contentTooLarge
            case .overloaded: .serviceUnavailable
            case .timeout: .serviceUnavailable
            case .notReady: .serviceUnavailable
            case .internalError: .internalServerError
            case .unavailable: .serviceUnavailable
            case .readOnly: .forbidden
            case .notFound: .notFound
            case .notImplemented: .notImplemented
            case .forbidden: .forbidden
            case .conflict: .conflict
            case .reloadFailed: .unprocessableContent
            }
        var headers: HTTPFields = [:]
        if status == .serviceUnavailable { headers[.retryAfter] = "1" }
        self.init(status, code: error.code.rawValue, error.message, headers: headers)
    }

    static func invalidJSON(_ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_json", message)
    }

    /// A readable message for a JSON decoding failure, naming the field.
    static func decoding(_ error: DecodingError) -> APIError {
        func path(_ codingPath: [any CodingKey]) -> String {
            let text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.isEmpty ? "the body" : String(text.drop { $0 == "." })
        }
        switch error {
        case .typeMismatch(let type, let context):
            return invalidJSON("\(path(context.codingPath)): expected \(describe(type)), \(context.debugDescription)")
        case .valueNotFound(let type, let context):
            return invalidJSON("\(path(context.codingPath)): expected \(describe(type)), found null")
        case .keyNotFound(let key, let context):
            return invalidJSON("\(path(context.codingPath + [key])) is required")
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return invalidJSON("\(path(context.codingPath)): \(underlying ?? context.debugDescription)")
        @unknown default:
            return invalidJSON("\(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Float.Type, is Double.Type: "a number"
        case is Int.Type: "an integer"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        default: "\(type)".hasPrefix("Array") ? "an array" : "an object"
        }
    }
}

/// Turns every error thrown below it into an `APIError` (the JSON error shape), and counts
/// requests by route and status.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let clock = ContinuousClock()
        let started = clock.now
        metrics.inFlightRequests.increment()
        defer { metrics.inFlightRequests.decrement() }
        do {
            let response = try await next(request, context)
            record(context: context, status: response.status, since: started, clock: clock)
            return response
        } catch {
            let apiError = Self.convert(error, request: request)
            record(context: context, status: apiError.status, since: started, clock: clock)
            throw apiError
        }
    }

    private func record(context: Context, status: HTTPResponse.Status, since started: ContinuousClock.Instant, clock: ContinuousClock) {
        // Unknown paths share one label so a scanner cannot blow up the metric's cardinality.
        let route = context.endpointPath ?? "unmatched"
        metrics.recordRequest(frontEnd: "http", route: route, status: String(status.code), duration: clock.now - started)
    }

    static func convert(_ error: any Error, request: Request) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as ServiceError: return APIError(error)
        case let error as DecodingError: return .decoding(error)
        case let error as HTTPError:
            switch error.status {
            case .notFound: return APIError(.notFound, code: "not_found", "no route for \(request.method) \(request.uri.path)")
            case .contentTooLarge: return APIError(.contentTooLarge, code: "body_too_large", "the request body exceeds the server's --max-body")
            default: return APIError(error.status, code: "http_\(error.status.code)", error.body ?? error.status.reasonPhrase)
            }
        default:
            return APIError(.internalServerError, code: "internal_error", "\(error)")
        }
    }
}
