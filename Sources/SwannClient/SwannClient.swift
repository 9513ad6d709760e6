import Foundation
public import NIOCore
public import NIOPosix
import NIOSSL
public import SwannCore
public import SwannProtocol
import Synchronization

import struct NIOConcurrencyHelpers.NIOLockedValueBox

/// An async client for a Swann server's binary TCP protocol.
///
/// One connection, opened on first use and reopened after it drops, carries every call;
/// calls from many tasks are pipelined on it and matched to their answers by request id.
/// Each call has the configured timeout. `Sendable`: share one client per server.
///
/// ```swift
/// let client = SwannClient(ClientConfiguration(host: "127.0.0.1", port: 8081))
/// let hits = try await client.search(vector, k: 10).neighbors
/// ```
public final class SwannClient: Sendable {
    /// Where and how the client connects.
    public let configuration: ClientConfiguration
    private let group: any EventLoopGroup
    private let connection = NIOLockedValueBox<EventLoopFuture<any Channel>?>(nil)
    /// The connected channel once `connection` has succeeded: calls take it without awaiting
    /// the future, which would cost a hop to its event loop on every call.
    private let connected = NIOLockedValueBox<(any Channel)?>(nil)
    private let nextRequestID = Atomic<UInt32>(1)

    /// A client for the server `configuration` names; it connects on the first call and
    /// reconnects after a failure. Share one per server across tasks.
    public init(_ configuration: ClientConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
    }

    deinit {
        connection.withLockedValue { $0 }?.whenSuccess { $0.close(promise: nil) }
    }

    /// The `k` nearest neighbours of `vector`, with what the search cost.
    public func search(
        _ vector: [Float],
        k: Int,
        overrides: SearchParameters.Overrides = .init()
    ) async throws(SwannClientError) -> SearchResponse {
        var body = ByteBuffer()
        SearchRequest(vector: vector, k: k, overrides: overrides).encode(into: &body)
        var reply = try await call(.search, body: body)
        do { return try SearchResponse.decode(from: &reply) } catch {
            throw SwannClientError(.protocolViolation, "search response: \(error.message)")
        }
    }

    /// The `k` nearest neighbours of each vector, in order (one round trip).
    public func search(
        batch vectors: [[Float]],
        k: Int,
        overrides: SearchParameters.Overrides = .init()
    ) async throws(SwannClientError) -> [SearchResponse] {
        let dimension = vectors.first?.count ?? 0
        guard vectors.allSatisfy({ $0.count == dimension }) else {
            throw SwannClientError(.invalidArgument, "every query of a batch needs the same dimension")
        }
        var body = ByteBuffer()
        BatchSearchRequest(vectors: vectors.flatMap { $0 }, dimension: dimension, k: k, overrides: overrides).encode(into: &body)
        var reply = try await call(.batchSearch, body: body)
        do { return try BatchSearchResponse.decode(from: &reply) } catch {
            throw SwannClientError(.protocolViolation, "batch search response: \(error.message)")
        }
    }

    /// The server's index description (what `GET /v1/index` answers).
    public func indexInfo() async throws(SwannClientError) -> IndexInfo {
        let reply = try await call(.info, body: ByteBuffer())
        do { return try JSONDecoder().decode(IndexInfo.self, from: Data(reply.readableBytesView)) } catch {
            throw SwannClientError(.protocolViolation, "info response: \(error)")
        }
    }

    /// Inserts `vectors[i]` under `ids[i]`, replacing what those ids held; the server applies
    /// the batch whole or not at all.
    /// - Parameter durable: answer once the write is fsynced (HTTP `wait=true`), or once it is
    ///   in the server's log buffer.
    /// - Returns: points written.
    /// - Throws: `SwannClientError`; `.server(.forbidden)` from a read-only server or key.
    @discardableResult
    public func upsert(ids: [UInt64], vectors: [[Float]], durable: Bool = true) async throws(SwannClientError) -> Int {
        let dimension = vectors.first?.count ?? 0
        guard ids.count == vectors.count else {
            throw SwannClientError(.invalidArgument, "\(ids.count) ids for \(vectors.count) vectors")
        }
        guard vectors.allSatisfy({ $0.count == dimension }) else {
            throw SwannClientError(.invalidArgument, "every vector of an upsert needs the same dimension")
        }
        var body = ByteBuffer()
        UpsertRequest(ids: ids, vectors: vectors.flatMap { $0 }, dimension: dimension, durable: durable).encode(into: &body)
        return try await write(.upsert, body: body)
    }

    /// Deletes the points stored under `ids` (absent ids are ignored).
    /// - Returns: how many were present.
    @discardableResult
    public func delete(ids: [UInt64], durable: Bool = true) async throws(SwannClientError) -> Int {
        var body = ByteBuffer()
        DeleteRequest(ids: ids, durable: durable).encode(into: &body)
        return try await write(.delete, body: body)
    }

    /// The vector stored under `id`, or nil when there is none.
    public func point(id: UInt64) async throws(SwannClientError) -> [Float]? {
        var body = ByteBuffer()
        PointMessage(id: id).encodeRequest(into: &body)
        var reply: ByteBuffer
        do { reply = try await call(.getPoint, body: body) } catch {
            if case .server(.notFound) = error.code { return nil }
            throw error
        }
        do { return try PointMessage.decode(from: &reply).vector } catch {
            throw SwannClientError(.protocolViolation, "point response: \(error.message)")
        }
    }

    private func write(_ type: FrameType, body: ByteBuffer) async throws(SwannClientError) -> Int {
        var reply = try await call(type, body: body)
        do { return try WriteResponse.decode(from: &reply).count } catch {
            throw SwannClientError(.protocolViolation, "\(type) response: \(error.message)")
        }
    }

    /// Round trip with an empty frame; throws when the server does not answer.
    public func ping() async throws(SwannClientError) {
        _ = try await call(.ping, body: ByteBuffer())
    }

    /// Closes the connection; a later call opens a new one.
    public func close() async {
        connected.withLockedValue { $0 = nil }
        let current = connection.withLockedValue { current in
            defer { current = nil }
            return current
        }
        if let channel = try? await current?.get() { try? await channel.close() }
    }

    // MARK: Calls

    private func call(_ type: FrameType, body: ByteBuffer) async throws(SwannClientError) -> ByteBuffer {
        let channel = try await openChannel()
        do {
            return try await exchange(on: channel, type: type, body: body, timeout: configuration.timeout)
        } catch let error where error.code == .connectionClosed {
            // A pooled connection the server closed (idle timeout, restart): one retry on a new one.
            dropConnection(channel)
            return try await exchange(on: try await openChannel(), type: type, body: body, timeout: configuration.timeout)
        }
    }

    private func exchange(on channel: any Channel, type: FrameType, body: ByteBuffer, timeout: Duration) async throws(SwannClientError) -> ByteBuffer
    {
        let id = nextRequestID.wrappingAdd(1, ordering: .relaxed).oldValue
        let promise = channel.eventLoop.makePromise(of: Frame.self)
        let request = PendingRequest(frame: Frame(type: type, requestID: id, body: body), promise: promise, timeout: timeout)
        request.send(on: channel)
        let frame: Frame
        do { frame = try await promise.futureResult.get() } catch {
            throw error as? SwannClientError ?? SwannClientError(.connectionClosed, "\(error)")
        }
        guard frame.header.type == type.response else {
            throw SwannClientError(.protocolViolation, "asked \(type), got \(frame.header.type)")
        }
        guard frame.header.status == 0 else {
            let code = ProtocolErrorCode(rawValue: frame.header.status)
            let message = String(buffer: frame.body)
            throw SwannClientError(code.map { .server($0) } ?? .protocolViolation, message)
        }
        return frame.body
    }

    private func openChannel() async throws(SwannClientError) -> any Channel {
        if let channel = connected.withLockedValue({ $0 }), channel.isActive { return channel }
        let future = connection.withLockedValue { current in
            if let current { return current }
            let fresh = connect()
            current = fresh
            return fresh
        }
        do {
            let channel = try await future.get()
            if channel.isActive {
                connected.withLockedValue { $0 = channel }
                return channel
            }
            dropConnection(channel)
            return try await connect().get()
        } catch {
            connection.withLockedValue { if $0 === future { $0 = nil } }
            throw error as? SwannClientError ?? SwannClientError(.connectionFailed, "\(configuration.host):\(configuration.port): \(error)")
        }
    }

    private func dropConnection(_ channel: any Channel) {
        // Another task may already have replaced it; clearing costs at most one extra connect.
        connected.withLockedValue { if $0 === channel { $0 = nil } }
        connection.withLockedValue { $0 = nil }
        channel.close(promise: nil)
    }

    /// Connects, adds TLS and the frame codec, and says hello when there is a key.
    private func connect() -> EventLoopFuture<any Channel> {
        let configuration = configuration
        let tlsContext: NIOSSLContext?
        do {
            tlsContext = try configuration.tls.map { tls in
                var settings = TLSConfiguration.makeClientConfiguration()
                if let path = tls.trustRootsPath { settings.trustRoots = .file(path) }
                return try NIOSSLContext(configuration: settings)
            }
        } catch {
            return group.next().makeFailedFuture(SwannClientError(.connectionFailed, "TLS settings: \(error)"))
        }
        let timeout = TimeAmount(configuration.connectTimeout)
        let connected = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tlsContext {
                        let name = configuration.tls?.serverName ?? configuration.bareHost
                        try pipeline.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: name.first?.isNumber == true ? nil : name))
                    }
                    try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maxBodyBytes: configuration.maxFrameBytes)))
                    try pipeline.addHandler(ResponseRouter())
                }
            }
            .connect(host: configuration.bareHost, port: configuration.port)
        guard let apiKey = configuration.apiKey else { return connected }
        return connected.flatMap { channel in
            let promise = channel.eventLoop.makePromise(of: Frame.self)
            let hello = Frame(type: .hello, requestID: 0, body: ByteBuffer(string: apiKey))
            PendingRequest(frame: hello, promise: promise, timeout: configuration.connectTimeout).send(on: channel)
            return promise.futureResult.flatMapThrowing { reply in
                guard reply.header.status == 0 else {
                    channel.close(promise: nil)
                    throw SwannClientError(.server(ProtocolErrorCode(rawValue: reply.header.status) ?? .unauthorized), String(buffer: reply.body))
                }
                return channel
            }
        }
    }
}

/// A frame to send and the promise its answer completes.
struct PendingRequest {
    var frame: Frame
    var promise: EventLoopPromise<Frame>
    var timeout: Duration

    /// Writes the request; a write that fails fails the answer too. A channel closed between
    /// `openChannel` and the write (a server killed a moment before) no longer has its handlers,
    /// so `ResponseRouter` never sees the request, never schedules its timeout, and the answer's
    /// promise used to wait for ever: a router blocked on it could not even shut down.
    func send(on channel: any Channel) {
        let written = channel.eventLoop.makePromise(of: Void.self)
        let promise = promise
        written.futureResult.whenFailure { error in
            // Ignored when the answer already came (or failed with the connection).
            promise.fail(SwannClientError(.connectionClosed, "the request could not be sent: \(error)"))
        }
        channel.writeAndFlush(self, promise: written)
    }
}

/// Matches answers to requests by id; lives on the channel's event loop, so its table needs no lock.
final class ResponseRouter: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = PendingRequest
    typealias OutboundOut = ByteBuffer

    private var pending: [UInt32: EventLoopPromise<Frame>] = [:]

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        let id = request.frame.header.requestID
        pending[id] = request.promise
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: TimeAmount(request.timeout)) {
            loopBound.value.pending.removeValue(forKey: id)?.fail(SwannClientError(.timeout, "no answer within \(request.timeout)"))
        }
        context.write(wrapOutboundOut(request.frame.encoded(allocator: context.channel.allocator)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if let promise = pending.removeValue(forKey: frame.header.requestID) {
            promise.succeed(frame)
        } else if frame.header.requestID == 0, frame.header.status != 0 {
            // A connection-level refusal (bad header, too many connections): fails everything.
            failAll(SwannClientError(.server(ProtocolErrorCode(rawValue: frame.header.status) ?? .badHeader), String(buffer: frame.body)))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(SwannClientError(.protocolViolation, "\(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(SwannClientError(.connectionClosed, "the server closed the connection"))
        context.fireChannelInactive()
    }

    private func failAll(_ error: SwannClientError) {
        let waiting = pending
        pending.removeAll()
        for promise in waiting.values { promise.fail(error) }
    }
}
