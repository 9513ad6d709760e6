import CoreMetrics
import Foundation
public import Logging
public import NIOCore
import NIOPosix
public import NIOSSL
public import ServiceLifecycle
import Swann
import SwannProtocol
import Synchronization

/// The binary TCP front end (docs/PROTOCOL.md): length-prefixed frames, pipelined by request id.
///
/// One child task per connection in a discarding task group (finished connections leave no
/// state behind); each connection catches its own errors, so one bad client cannot take the
/// server down. A frame with a wrong magic, version, an oversized length or a malformed body
/// gets an error frame and the connection is closed; any other bad request gets an error frame
/// and the connection goes on. On graceful shutdown the listener closes; each connection reads
/// until its peer has gone quiet (so every frame fully sent is answered), stops reading,
/// finishes the requests it has, and closes.
public struct TCPServer: Service {
    let service: any SearchBackend
    let tls: NIOSSLContext?
    let logger: Logger
    let onListening: @Sendable (SocketAddress) -> Void
    private let connections = ConnectionCount()
    private let frameBudget: FrameBufferBudget
    private let keys: APIKeys

    /// - Parameters:
    ///   - tls: wraps every connection in TLS when given.
    ///   - onListening: called with the bound address (port 0 resolves here).
    public init(service: any SearchBackend, tls: NIOSSLContext?, logger: Logger, onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in })
    {
        self.service = service
        self.tls = tls
        self.logger = logger
        self.onListening = onListening
        frameBudget = FrameBufferBudget(limit: service.configuration.maxBufferedFrameBytes)
        keys = APIKeys(service.configuration.apiKeys)
    }

    var configuration: ServerConfiguration { service.configuration }

    /// Serves until graceful shutdown, then drains connections (docs/PROTOCOL.md).
    public func run() async throws {
        let configuration = configuration
        let idle = TimeAmount(configuration.idleTimeout)
        let tls = tls
        let frameBudget = frameBudget
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.host, port: configuration.tcpPort ?? 8081) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
                    try pipeline.addHandler(IdleStateHandler(allTimeout: idle))
                    try pipeline.addHandler(CloseOnIdle())
                    let progress = FrameProgress()
                    try pipeline.addHandler(
                        ByteToMessageHandler(ConnectionFrameDecoder(configuration: configuration, budget: frameBudget, progress: progress))
                    )
                    try pipeline.addHandler(FrameDeadlineHandler(progress: progress, deadline: configuration.readTimeout))
                    return AcceptedConnection(
                        channel: try NIOAsyncChannel<Frame, ByteBuffer>(wrappingChannelSynchronously: channel),
                        progress: progress
                    )
                }
            }
        if let address = listener.channel.localAddress { onListening(address) }
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await listener.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await serve(connection.channel, progress: connection.progress) }
                    }
                }
            }
        } onGracefulShutdown: {
            listener.channel.close(promise: nil)
        }
    }

    /// Serves one connection until it closes; never throws.
    private func serve(_ connection: NIOAsyncChannel<Frame, ByteBuffer>, progress: FrameProgress) async {
        let open = connections.value.wrappingAdd(1, ordering: .relaxed).newValue
        service.metrics.tcpConnections.increment()
        defer {
            connections.value.wrappingSubtract(1, ordering: .relaxed)
            service.metrics.tcpConnections.decrement()
        }
        let channel = connection.channel
        do {
            try await connection.executeThenClose { inbound, outbound in
                guard open <= configuration.maxConnections else {
                    let refusal = Frame.error(
                        .overloaded,
                        "too many connections (limit \(configuration.maxConnections))",
                        answering: .ping,
                        requestID: 0
                    )
                    try await outbound.write(refusal.encoded())
                    return
                }
                var session = ConnectionSession(requiresKey: !configuration.apiKeys.isEmpty)
                try await withGracefulShutdownHandler {
                    try await withThrowingTaskGroup(of: Void.self) { requests in
                        var inFlight = 0
                        do {
                            for try await frame in inbound {
                                progress.frameTaken()
                                let request: TCPRequest
                                if progress.isRefusingNewRequests {
                                    let refusal = Frame.error(
                                        .notReady,
                                        "the server is shutting down; retry on another server",
                                        answering: frame.header.type,
                                        requestID: frame.header.requestID
                                    )
                                    try await outbound.write(refusal.encoded())
                                    continue
                                }
                                switch admit(frame, session: &session) {
                                case .reply(let reply):
                                    try await outbound.write(reply.encoded())
                                    continue
                                case .replyAndClose(let reply):
                                    try await requests.waitForAll()
                                    try await outbound.write(reply.encoded())
                                    return
                                case .run(let decoded):
                                    request = decoded
                                }
                                if inFlight >= ConnectionSession.maxInFlight {
                                    try await requests.next()
                                    inFlight -= 1
                                }
                                inFlight += 1
                                progress.requestStarted()
                                requests.addTask {
                                    defer { progress.requestFinished() }
                                    let reply = await respond(to: request)
                                    try await outbound.write(reply.encoded())
                                }
                            }
                        } catch let error as FrameDecodingError {
                            try await requests.waitForAll()
                            try await outbound.write(refusal(for: error).encoded())
                            logger.debug("closing TCP connection", metadata: ["reason": "\(error)"])
                            return
                        }
                        try await requests.waitForAll()
                    }
                } onGracefulShutdown: {
                    channel.pipeline.fireUserInboundEventTriggered(FrameDeadlineHandler.DrainEvent())
                }
            }
        } catch {
            logger.debug("TCP connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// What the connection's own task does with a frame: answers hello, ping, info and
    /// refusals itself (they are cheap, and `hello` must take effect before the frames after it),
    /// decodes a search body, or gives up on a peer that does not speak the protocol.
    private func admit(_ frame: Frame, session: inout ConnectionSession) -> Admission {
        let header = frame.header
        let started = ContinuousClock.now
        func finish(_ reply: Frame, close: Bool = false) -> Admission {
            record(type: header.type, status: reply.header.status, since: started)
            return close ? .replyAndClose(reply) : .reply(reply)
        }
        if header.type.isResponse || !Self.requestTypes.contains(header.type) {
            return finish(
                .error(
                    .unknownType,
                    "unknown frame type 0x\(String(header.type.rawValue, radix: 16))",
                    answering: header.type,
                    requestID: header.requestID
                )
            )
        }
        if header.type == .hello {
            let role = keys.isEmpty ? .admin : keys.role(of: String(buffer: frame.body))
            guard let role else {
                // One guess per connection: a wrong key ends it (and revokes an earlier good one).
                session.role = nil
                return finish(.error(.unauthorized, "the API key is not valid", answering: .hello, requestID: header.requestID), close: true)
            }
            session.role = role
            return finish(Frame(type: FrameType.hello.response, requestID: header.requestID, body: ByteBuffer()))
        }
        if header.type == .ping {
            return finish(Frame(type: FrameType.ping.response, requestID: header.requestID, body: ByteBuffer()))
        }
        guard let role = session.role else {
            return finish(
                .error(
                    .unauthorized,
                    "this server requires an API key: send a hello frame first",
                    answering: header.type,
                    requestID: header.requestID
                )
            )
        }
        if header.type == .info {
            do {
                let json = try JSONEncoder().encode(try service.indexInfo())
                return finish(Frame(type: FrameType.info.response, requestID: header.requestID, body: ByteBuffer(bytes: json)))
            } catch {
                let failure = error as? ServiceError ?? ServiceError(.internalError, "\(error)")
                return finish(.error(failure.protocolCode, failure.message, answering: .info, requestID: header.requestID))
            }
        }
        if [.upsert, .delete].contains(header.type), role < .write {
            return finish(
                .error(
                    .forbidden,
                    "this API key has the role \(role.rawValue); \(header.type) needs a key with the role write",
                    answering: header.type,
                    requestID: header.requestID
                )
            )
        }
        var body = frame.body
        do throws(MessageDecodingError) {
            let decoded: TCPRequest.Body =
                switch header.type {
                case .search: .search(try SearchRequest.decode(from: &body))
                case .batchSearch: .batch(try BatchSearchRequest.decode(from: &body))
                case .upsert: .upsert(try UpsertRequest.decode(from: &body))
                case .delete: .delete(try DeleteRequest.decode(from: &body))
                default: .getPoint(try PointMessage.decodeRequest(from: &body).id)
                }
            return .run(TCPRequest(header: header, started: started, body: decoded))
        } catch {
            // The framing held but the body does not match its layout: a broken or hostile
            // peer, whose next frames cannot be trusted either.
            return finish(.error(.malformedBody, error.message, answering: header.type, requestID: header.requestID), close: true)
        }
    }

    /// Runs a decoded search or batch search.
    private func respond(to request: TCPRequest) async -> Frame {
        let header = request.header
        var out = ByteBuffer()
        let reply: Frame
        do throws(ServiceError) {
            switch request.body {
            case .search(let search): try await service.search(search).encode(into: &out)
            case .batch(let batch): BatchSearchResponse.encode(try await service.search(batch), into: &out)
            case .upsert(let upsert):
                let points = try Self.points(of: upsert)
                try await service.upsert(points, durability: upsert.durable ? .durable : .buffered)
                WriteResponse(count: points.count).encode(into: &out)
            case .delete(let delete):
                let deleted = try await service.delete(delete.ids, durability: delete.durable ? .durable : .buffered)
                WriteResponse(count: deleted).encode(into: &out)
            case .getPoint(let id):
                let point = try await service.point(id: id)
                PointMessage(id: point.id, vector: point.vector).encode(into: &out)
            }
            reply = Frame(type: header.type.response, requestID: header.requestID, body: out)
        } catch {
            reply = .error(error.protocolCode, error.message, answering: header.type, requestID: header.requestID)
        }
        record(type: header.type, status: reply.header.status, since: request.started)
        return reply
    }

    /// The request types a server answers.
    static let requestTypes: Set<FrameType> = [.hello, .search, .batchSearch, .info, .ping, .upsert, .delete, .getPoint]

    /// The points of an upsert frame, whose vectors must all have the frame's dimension.
    static func points(of request: UpsertRequest) throws(ServiceError) -> [Point] {
        let dimension = request.dimension
        guard dimension > 0 || request.ids.isEmpty else { throw ServiceError(.invalidRequest, "an upsert of dimension 0 holds no vectors") }
        return request.ids.indices.map { i in
            Point(id: request.ids[i], vector: Array(request.vectors[i * dimension..<(i + 1) * dimension]))
        }
    }

    private func refusal(for error: FrameDecodingError) -> Frame {
        switch error {
        case .frameTooLarge(_, _, let requestID, let type):
            return .error(.frameTooLarge, error.description, answering: type, requestID: requestID)
        case .bufferBudgetExhausted(_, let requestID, let type):
            return .error(.overloaded, error.description, answering: type, requestID: requestID)
        case .tooSlow:
            return .error(.timeout, error.description, answering: .ping, requestID: 0)
        case .badMagic, .unsupportedVersion, .truncated:
            return .error(.badHeader, error.description, answering: .ping, requestID: 0)
        }
    }

    private func record(type: FrameType, status: UInt16, since started: ContinuousClock.Instant) {
        let statusName = status == 0 ? "ok" : (ProtocolErrorCode(rawValue: status)?.description ?? String(status))
        service.metrics.recordRequest(frontEnd: "tcp", route: type.description, status: statusName, duration: ContinuousClock.now - started)
    }
}

/// A connection as the listener hands it to its task.
struct AcceptedConnection: Sendable {
    var channel: NIOAsyncChannel<Frame, ByteBuffer>
    var progress: FrameProgress
}

/// What a connection's task does with a frame it received.
enum Admission {
    case reply(Frame)
    case replyAndClose(Frame)
    case run(TCPRequest)
}

/// A search or write frame whose body decoded.
struct TCPRequest: Sendable {
    enum Body: Sendable {
        case search(SearchRequest)
        case batch(BatchSearchRequest)
        case upsert(UpsertRequest)
        case delete(DeleteRequest)
        case getPoint(UInt64)
    }
    var header: FrameHeader
    var started: ContinuousClock.Instant
    var body: Body
}

/// Per-connection state.
struct ConnectionSession {
    /// Requests one connection may have running at once; more wait for one to finish (TCP back
    /// pressure then slows the client).
    static let maxInFlight = 64
    /// What the connection may do: nil until a valid `hello` on a keyed server; everything on
    /// a server without keys.
    var role: APIKeyRole?

    init(requiresKey: Bool) { role = requiresKey ? nil : .admin }
}

/// Closes a connection when `IdleStateHandler` reports it idle.
final class CloseOnIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// Open connections, shared by the copies of a `TCPServer` value.
final class ConnectionCount: Sendable {
    let value = Atomic<Int>(0)
}
