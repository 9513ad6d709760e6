import Foundation
import Hummingbird
import HummingbirdTesting
import SwannServer
import SwannTestSupport
import Testing
import Yams

/// docs/openapi.yaml against the running router: every documented operation answers with a
/// documented status and a body that satisfies the documented schema, for a good request and
/// for the documented failures.
struct OpenAPIConformanceTests {
    nonisolated(unsafe) static let spec: [String: Any] = {
        var url = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("docs/openapi.yaml").path) { url.deleteLastPathComponent() }
        let text = try! String(contentsOf: url.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        return try! Yams.load(yaml: text) as! [String: Any]
    }()

    struct Operation: Sendable, CustomTestStringConvertible {
        var path: String
        var method: String
        var testDescription: String { "\(method.uppercased()) \(path)" }
    }

    static let operations: [Operation] = {
        let paths = spec["paths"] as! [String: [String: Any]]
        return paths.keys.sorted().flatMap { path in paths[path]!.keys.sorted().map { Operation(path: path, method: $0) } }
    }()

    @Test func theSpecListsEveryRoute() {
        #expect(
            Set(Self.operations.map(\.testDescription)) == [
                "POST /v1/search", "POST /v1/search/batch", "GET /v1/index", "GET /healthz", "GET /readyz", "GET /metrics",
                "PUT /v1/points", "POST /v1/points/delete", "GET /v1/points/{id}", "POST /v1/admin/reload",
                "POST /v1/admin/checkpoint", "POST /v1/admin/rebalance",
            ]
        )
    }

    @Test(arguments: operations)
    func operationAnswersAsSpecified(_ operation: Operation) async throws {
        let spec = Self.spec
        let definition = (spec["paths"] as! [String: [String: Any]])[operation.path]![operation.method] as! [String: Any]
        let responses = definition["responses"] as! [String: Any]
        let method = HTTPRequest.Method(rawValue: operation.method.uppercased())!
        var body: ByteBuffer?
        if let request = definition["requestBody"] as? [String: Any],
            let example = ((request["content"] as? [String: Any])?["application/json"] as? [String: Any])?["example"]
        {
            // The spec's examples are 3-dimensional; the example index has 384 dimensions.
            body = ServerFixture.json(Self.widen(example, to: ServerFixture.queries[0]))
        }
        // Writes get a private copy of the index; `{id}` is an id the example holds.
        // A reload needs a service that opened its index by path.
        let service =
            if operation.path.hasPrefix("/v1/admin") {
                try await ServerFixture.loadedService { $0.apiKeys = ["key": .admin] }.0
            } else if operation.path.hasPrefix("/v1/points") {
                try ServerFixture.writableService { $0.apiKeys = ["key": .admin] }
            } else {
                ServerFixture.service { $0.apiKeys = ["key": .admin] }
            }
        let uri = operation.path.replacingOccurrences(of: "{id}", with: "7")
        let needsKey = responses["401"] != nil
        let sentBody = body
        let (good, unauthorized, malformed) = try await ServerFixture.withRouter(service) { client in
            var headers: HTTPFields = [.authorization: "Bearer key"]
            if sentBody != nil { headers[.contentType] = "application/json" }
            let good = try await client.execute(uri: uri, method: method, headers: headers, body: sentBody)
            // Documented failures: no key (when the route needs one) and a malformed body.
            let unauthorized =
                needsKey
                ? try await client.execute(uri: uri, method: method, headers: [.contentType: "application/json"], body: sentBody)
                : nil
            let malformed =
                sentBody != nil
                ? try await client.execute(uri: uri, method: method, headers: headers, body: ByteBuffer(string: "{"))
                : nil
            return (good, unauthorized, malformed)
        }
        #expect(good.status == .ok)
        try Self.check(good, against: responses, spec: spec)
        if let unauthorized {
            #expect(unauthorized.status == .unauthorized)
            try Self.check(unauthorized, against: responses, spec: spec)
        }
        if let malformed {
            #expect(malformed.status == .badRequest)
            try Self.check(malformed, against: responses, spec: spec)
        }
    }

    /// Replaces every array of fractional numbers (a vector; `[7, 8]` is a list of ids) with `vector`.
    static func widen(_ value: Any, to vector: [Float]) -> Any {
        switch value {
        case let array as [Any]
        where array.allSatisfy({ $0 is NSNumber })
            && array.contains(where: { ($0 as! NSNumber).doubleValue.rounded() != ($0 as! NSNumber).doubleValue }):
            return vector
        case let array as [Any]: return array.map { widen($0, to: vector) }
        case let object as [String: Any]: return object.mapValues { widen($0, to: vector) }
        default: return value
        }
    }

    static func check(_ response: TestResponse, against responses: [String: Any], spec: [String: Any]) throws {
        let documented = try #require(responses[String(response.status.code)], "status \(response.status.code) is not documented")
        let resolved = resolve(documented, spec) as! [String: Any]
        guard let content = resolved["content"] as? [String: Any] else { return }
        if let json = content["application/json"] as? [String: Any], let schema = json["schema"] {
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            let value = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView), options: [.fragmentsAllowed])
            let problems = validate(value, schema, spec, at: "body")
            #expect(problems.isEmpty, "\(problems)")
        } else if content["text/plain"] != nil {
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
        }
    }

    static func resolve(_ node: Any, _ spec: [String: Any]) -> Any {
        guard let object = node as? [String: Any], let reference = object["$ref"] as? String else { return node }
        var target: Any = spec
        for part in reference.dropFirst(2).split(separator: "/") { target = (target as! [String: Any])[String(part)]! }
        return resolve(target, spec)
    }

    /// A small JSON Schema check: type, required, properties, additionalProperties, items, enum, oneOf.
    static func validate(_ value: Any, _ schemaNode: Any, _ spec: [String: Any], at path: String) -> [String] {
        let schema = resolve(schemaNode, spec) as! [String: Any]
        if let options = schema["oneOf"] as? [Any] {
            return options.contains { validate(value, $0, spec, at: path).isEmpty } ? [] : ["\(path): matches no oneOf option"]
        }
        var problems: [String] = []
        if let allowed = schema["enum"] as? [String], !allowed.contains(value as? String ?? "\u{0}") {
            problems.append("\(path): \(value) not in \(allowed)")
        }
        switch schema["type"] as? String {
        case "object":
            guard let object = value as? [String: Any] else { return ["\(path): not an object"] }
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { problems.append("\(path).\(key): missing") }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for (key, child) in object {
                if let property = properties[key] {
                    problems += validate(child, property, spec, at: "\(path).\(key)")
                } else if schema["additionalProperties"] as? Bool == false {
                    problems.append("\(path).\(key): not in the schema")
                }
            }
        case "array":
            guard let array = value as? [Any] else { return ["\(path): not an array"] }
            if let items = schema["items"] {
                for (i, item) in array.enumerated() { problems += validate(item, items, spec, at: "\(path)[\(i)]") }
            }
        case "integer":
            if !(value is NSNumber) || (value as! NSNumber).doubleValue.rounded() != (value as! NSNumber).doubleValue {
                problems.append("\(path): not an integer")
            }
        case "number":
            if !(value is NSNumber) { problems.append("\(path): not a number") }
        case "string":
            if !(value is String) { problems.append("\(path): not a string") }
        case "boolean":
            if !(value is NSNumber) { problems.append("\(path): not a boolean") }
        case "null":
            if !(value is NSNull) { problems.append("\(path): not null") }
        default:
            break
        }
        return problems
    }
}
