import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import SwannProtocol
import SwannServer

/// Runs a real `TCPServer` on a free loopback port for the length of `body`, then shuts it
/// down gracefully (the way SIGTERM would).
func withTCPServer<T: Sendable>(
    _ service: SearchService,
    tls: NIOSSLContext? = nil,
    _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    try await withTCPServerGroup(service, tls: tls) { port, _ in try await body(port) }
}

/// `withTCPServer`, with the service group too, for tests that shut the server down themselves.
func withTCPServerGroup<T: Sendable>(
    _ service: SearchService,
    tls: NIOSSLContext? = nil,
    _ body: @Sendable (Int, ServiceGroup) async throws -> T
) async throws -> T {
    precondition(service.configuration.tcpPort == 0, "tests listen on a free port (ServerFixture.service sets 0)")
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let logger = Logger(label: "swann-test")
    let server = TCPServer(service: service, tls: tls, logger: logger) { continuation.yield($0.port ?? 0) }
    let group = ServiceGroup(services: [server], logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next()!
        do {
            let result = try await body(port, group)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        } catch {
            await group.triggerGracefulShutdown()
            tasks.cancelAll()
            throw error
        }
    }
}

/// Reads whole frames from a raw connection's byte stream.
struct FrameReader {
    var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    var buffer = ByteBuffer()
    var decoder = FrameDecoder(maxBodyBytes: 1 << 26)

    /// The next frame, or nil once the server closed the connection.
    mutating func next() async throws -> Frame? {
        while true {
            if let frame = try decoder.decode(buffer: &buffer) { return frame }
            guard var chunk = try await iterator.next() else { return nil }
            buffer.writeBuffer(&chunk)
        }
    }
}

/// Opens a plain TCP connection that writes whatever bytes the test gives it.
func withRawConnection<T: Sendable>(
    port: Int,
    _ body: (inout FrameReader, NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> T
) async throws -> T {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
    return try await channel.executeThenClose { inbound, outbound in
        var reader = FrameReader(iterator: inbound.makeAsyncIterator())
        return try await body(&reader, outbound)
    }
}

/// A search frame's bytes for `vector`.
func searchFrame(_ vector: [Float], k: Int, id: UInt32) -> ByteBuffer {
    var body = ByteBuffer()
    SearchRequest(vector: vector, k: k).encode(into: &body)
    return Frame(type: .search, requestID: id, body: body).encoded()
}
