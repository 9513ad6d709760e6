import NIOCore
import NIOPosix
import SwannClient
import Testing

import struct NIOConcurrencyHelpers.NIOLockedValueBox

/// A server that goes away under a client's feet: every call must end, with an error, within its
/// deadline. (A call written to a connection that had just closed used to wait for ever; a
/// `swann route` blocked on one ignored SIGTERM, found by the debug run of the router's SIGKILL
/// test.)
@Suite struct ClientConnectionLossTests {
    @Test func callsOnConnectionsThatCloseAsTheyOpenAllEnd() async throws {
        // Accepts each connection and closes it at once, like a shard killed a moment after the
        // client connected: the client sees an active channel, then the close races its write.
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.execute { channel.close(promise: nil) }
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        defer { server.close(promise: nil) }
        let port = try #require(server.localAddress?.port)
        let client = SwannClient(ClientConfiguration(port: port, timeout: .seconds(2), connectTimeout: .seconds(2)))
        let calls = 300
        let outcomes = NIOLockedValueBox((ended: 0, answered: 0))
        let caller = Task {
            for _ in 0..<calls {
                let answered = (try? await client.ping()) != nil
                outcomes.withLockedValue {
                    $0.ended += 1
                    if answered { $0.answered += 1 }
                }
            }
        }
        // Each call ends within its 2 s timeout (twice that with the one retry on a new
        // connection); in practice in milliseconds. Polled, so that a hung call fails the test
        // rather than hanging it.
        let deadline = ContinuousClock.now + .seconds(120)
        while outcomes.withLockedValue({ $0.ended }) < calls, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let (ended, answered) = outcomes.withLockedValue { $0 }
        #expect(ended == calls, "\(calls - ended) of \(calls) calls never ended")
        #expect(answered == 0, "a server that closes every connection answered \(answered) pings")
        if ended == calls { await caller.value }
    }
}
