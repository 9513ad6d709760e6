import Foundation
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Swann
import SwannClient
import SwannProtocol
import SwannServer
import SwannTestSupport
import Testing

/// The TCP front end on a real loopback port, through SwannClient and through raw bytes.
@Suite(.serialized)
struct TCPServerTests {
    static let query = ServerFixture.queries[11]

    @Test func clientAnswersMatchTheLibrary() async throws {
        let expected = try ServerFixture.index.searchWithStatistics(Self.query, k: 10)
        let batch = Array(ServerFixture.queries[20..<30])
        let expectedBatch = try batch.map { try ServerFixture.index.search($0, k: 4) }
        try await withTCPServer(ServerFixture.service()) { (port: Int) async throws -> Void in
            let client = SwannClient(ClientConfiguration(port: port, timeout: .seconds(30)))
            try await client.ping()
            let response = try await client.search(Self.query, k: 10)
            #expect(response.neighbors == expected.neighbors)
            #expect(response.statistics.postingsRead == expected.statistics.postingsRead)
            #expect(try await client.search(batch: batch, k: 4).map(\.neighbors) == expectedBatch)
            let info = try await client.indexInfo()
            #expect(info == IndexInfo(ServerFixture.index))
            #expect(info.dimension == 384 && info.metric == .l2 && info.elementType == .float32)
            await client.close()
            // A closed client reconnects on the next call.
            #expect(try await client.search(Self.query, k: 10).neighbors == expected.neighbors)
        }
    }

    @Test func pipelinedCallsOnOneConnectionGetTheirOwnAnswers() async throws {
        let queries = Array(ServerFixture.queries[0..<96])
        let expected = try queries.map { try ServerFixture.index.search($0, k: 5) }
        try await withTCPServer(ServerFixture.service()) { (port: Int) async throws -> Void in
            let client = SwannClient(ClientConfiguration(port: port, timeout: .seconds(30)))
            let answers = try await withThrowingTaskGroup(of: (Int, [Neighbor]).self) { group in
                for (i, query) in queries.enumerated() {
                    group.addTask { (i, try await client.search(query, k: 5).neighbors) }
                }
                var answers = [[Neighbor]](repeating: [], count: queries.count)
                for try await (i, neighbors) in group { answers[i] = neighbors }
                return answers
            }
            #expect(answers == expected)
        }
    }

    @Test func badQueriesGetTypedErrorsAndTheConnectionGoesOn() async throws {
        try await withTCPServer(ServerFixture.service()) { (port: Int) async throws -> Void in
            let client = SwannClient(ClientConfiguration(port: port, timeout: .seconds(30)))
            for (vector, k) in [([Float](repeating: 0.1, count: 3), 10), (Self.query, 0), (Self.query, 100_000), ([], 10)] {
                await #expect(throws: SwannClientError.self) { _ = try await client.search(vector, k: k) }
                do throws(SwannClientError) { _ = try await client.search(vector, k: k) } catch {
                    #expect(error.code == .server(.invalidQuery), "\(error)")
                }
            }
            var nan = Self.query
            nan[7] = .nan
            do throws(SwannClientError) {
                _ = try await client.search(nan, k: 10)
                Issue.record("NaN accepted")
            } catch {
                #expect(error.code == .server(.invalidQuery))
                #expect(error.message.contains("component 7"), "\(error.message)")
            }
            await #expect(throws: SwannClientError.self) { _ = try await client.search(batch: [Self.query, [1, 2]], k: 3) }
            #expect(try await client.search(Self.query, k: 3).neighbors.count == 3)
        }
    }

    @Test func wrongMagicGetsAnErrorFrameAndTheConnectionCloses() async throws {
        try await withTCPServer(ServerFixture.service()) { (port: Int) async throws -> Void in
            try await withRawConnection(port: port) { reader, writer in
                try await writer.write(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
                let reply = try #require(try await reader.next())
                #expect(reply.header.status == ProtocolErrorCode.badHeader.rawValue)
                #expect(String(buffer: reply.body).contains("SWNP"))
                #expect(try await reader.next() == nil)
            }
            #expect(try await SwannClient(ClientConfiguration(port: port, timeout: .seconds(30))).search(Self.query, k: 1).neighbors.count == 1)
        }
    }

    @Test func oversizedFrameIsRefusedFromItsHeader() async throws {
        try await withTCPServer(ServerFixture.service { $0.maxFrameBytes = 4_096 }) { (port: Int) async throws -> Void in
            try await withRawConnection(port: port) { reader, writer in
                var header = ByteBuffer()
                FrameHeader(type: .batchSearch, requestID: 77, bodyLength: 1 << 30).write(to: &header)
                try await writer.write(header)
                let reply = try #require(try await reader.next())
                #expect(reply.header.requestID == 77)
                #expect(reply.header.type == FrameType.batchSearch.response)
                #expect(reply.header.status == ProtocolErrorCode.frameTooLarge.rawValue)
                #expect(try await reader.next() == nil)
            }
        }
    }

    @Test func unknownTypesKeepTheConnectionAMalformedBodyEndsIt() async throws {
        try await withTCPServer(ServerFixture.service()) { (port: Int) async throws -> Void in
            try await withRawConnection(port: port) { reader, writer in
                try await writer.write(Frame(type: FrameType(rawValue: 0x33), requestID: 1, body: ByteBuffer()).encoded())
                try await writer.write(Frame(type: FrameType.search.response, requestID: 2, body: ByteBuffer()).encoded())
                try await writer.write(searchFrame(Self.query, k: 2, id: 4))
                try await writer.write(Frame(type: .search, requestID: 3, body: ByteBuffer(bytes: [1, 2, 3])).encoded())
                var statuses: [UInt32: UInt16] = [:]
                for _ in 0..<4 {
                    let frame = try #require(try await reader.next())
                    statuses[frame.header.requestID] = frame.header.status
                }
                #expect(statuses[1] == ProtocolErrorCode.unknownType.rawValue)
                #expect(statuses[2] == ProtocolErrorCode.unknownType.rawValue)
                #expect(statuses[3] == ProtocolErrorCode.malformedBody.rawValue)
                #expect(statuses[4] == 0)
                #expect(try await reader.next() == nil)
            }
        }
    }

    /// The frame that once trapped the server: a batch search with k 10, dimension 0xFFFFFFFF and
    /// 0x80000000 queries, whose byte count overflowed while the refusal was being formatted.
    @Test func the44ByteBatchFrameIsRefusedAndTheServerKeepsServing() async throws {
        try await withTCPServer(ServerFixture.service()) { (port: Int) async throws -> Void in
            var body = ByteBuffer()
            body.writeInteger(UInt32(10), endianness: .little)
            body.writeInteger(UInt32(0xFFFF_FFFF), endianness: .little)
            body.writeInteger(UInt32(0x8000_0000), endianness: .little)
            body.writeRepeatingByte(0, count: 16)
            let frame = Frame(type: .batchSearch, requestID: 44, body: body).encoded()
            #expect(frame.readableBytes == 44)
            try await withRawConnection(port: port) { reader, writer in
                try await writer.write(frame)
                let reply = try #require(try await reader.next())
                #expect(reply.header.requestID == 44)
                #expect(reply.header.status == ProtocolErrorCode.malformedBody.rawValue)
                #expect(String(buffer: reply.body).contains("2147483648 query vectors of dimension 4294967295"), "\(String(buffer: reply.body))")
                #expect(try await reader.next() == nil)
            }
            #expect(try await SwannClient(ClientConfiguration(port: port, timeout: .seconds(30))).search(Self.query, k: 3).neighbors.count == 3)
        }
    }

    @Test func aKeyedServerReadsOnlyAHelloSizedFrameBeforeAuthentication() async throws {
        try await withTCPServer(ServerFixture.service { $0.apiKeys = ["k1": .write] }) { (port: Int) async throws -> Void in
            // A 1 MiB search announced before any hello is refused from its header alone.
            try await withRawConnection(port: port) { reader, writer in
                var header = ByteBuffer()
                FrameHeader(type: .search, requestID: 5, bodyLength: 1 << 20).write(to: &header)
                try await writer.write(header)
                let reply = try #require(try await reader.next())
                #expect(reply.header.status == ProtocolErrorCode.frameTooLarge.rawValue)
                #expect(String(buffer: reply.body).contains("4096"), "\(String(buffer: reply.body))")
                #expect(try await reader.next() == nil)
            }
            // After a good hello, even pipelined in the same write, the full frame size applies.
            try await withRawConnection(port: port) { reader, writer in
                var bytes = Frame(type: .hello, requestID: 1, body: ByteBuffer(string: "k1")).encoded()
                var batch = ByteBuffer()
                BatchSearchRequest(vectors: Array(ServerFixture.queries[0..<4].joined()), dimension: 384, k: 2).encode(into: &batch)
                #expect(batch.readableBytes > 4_096)  // the limit before a hello
                var frame = Frame(type: .batchSearch, requestID: 2, body: batch).encoded()
                bytes.writeBuffer(&frame)
                try await writer.write(bytes)
                #expect(try await reader.next()?.header.status == 0)
                let answer = try #require(try await reader.next())
                #expect(answer.header.requestID == 2 && answer.header.status == 0, "\(String(buffer: answer.body))")
            }
        }
    }

    @Test func aWrongHelloEndsTheConnection() async throws {
        try await withTCPServer(ServerFixture.service { $0.apiKeys = ["k1": .write] }) { (port: Int) async throws -> Void in
            try await withRawConnection(port: port) { reader, writer in
                try await writer.write(Frame(type: .hello, requestID: 1, body: ByteBuffer(string: "guess")).encoded())
                try await writer.write(Frame(type: .hello, requestID: 2, body: ByteBuffer(string: "k1")).encoded())
                #expect(try await reader.next()?.header.status == ProtocolErrorCode.unauthorized.rawValue)
                // No second guess on the same connection.
                #expect(try await reader.next() == nil)
            }
        }
    }

    @Test func aFrameTrickledByteByByteIsCutOffAtTheReadDeadline() async throws {
        let service = ServerFixture.service {
            // Room for a loaded machine: the trickle below ends at ~200 ms, the cut comes at 1.5 s.
            $0.readTimeout = .milliseconds(1_500)
            $0.idleTimeout = .seconds(30)
        }
        try await withTCPServer(service) { (port: Int) async throws -> Void in
            try await withRawConnection(port: port) { reader, writer in
                let frame = searchFrame(Self.query, k: 2, id: 1)
                let started = ContinuousClock.now
                // A byte every 100 ms: each one would restart an idle timer; the frame's deadline
                // runs from its first byte. The client stops before the cut so that no write
                // meets a closed socket (a reset would discard the error frame).
                let trickle = Task {
                    for offset in 0..<3 {
                        try await writer.write(frame.getSlice(at: offset, length: 1)!)
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                let reply = try #require(try await reader.next())
                trickle.cancel()
                #expect(reply.header.status == ProtocolErrorCode.timeout.rawValue, "\(String(buffer: reply.body))")
                #expect(ContinuousClock.now - started < .seconds(10))
                #expect(try await reader.next() == nil)
            }
            #expect(try await SwannClient(ClientConfiguration(port: port, timeout: .seconds(30))).search(Self.query, k: 1).neighbors.count == 1)
        }
    }

    @Test func largeFramesStillArrivingShareOneBufferBudget() async throws {
        let service = ServerFixture.service {
            $0.maxFrameBytes = 1 << 20
            $0.maxBufferedFrameBytes = 300 << 10
        }
        try await withTCPServer(service) { (port: Int) async throws -> Void in
            var header = ByteBuffer()
            FrameHeader(type: .batchSearch, requestID: 8, bodyLength: 200 << 10).write(to: &header)
            try await withRawConnection(port: port) { firstReader, firstWriter in
                // The first 200 KiB frame holds its share while its body has not come.
                try await firstWriter.write(header)
                try await Task.sleep(for: .milliseconds(200))
                try await withRawConnection(port: port) { reader, writer in
                    try await writer.write(header)
                    let reply = try #require(try await reader.next())
                    #expect(reply.header.status == ProtocolErrorCode.overloaded.rawValue, "\(String(buffer: reply.body))")
                    #expect(try await reader.next() == nil)
                }
            }
            // The first connection is gone and its reservation with it.
            try await Task.sleep(for: .milliseconds(200))
            try await withRawConnection(port: port) { reader, writer in
                var batch = ByteBuffer()
                let queries = Array(ServerFixture.queries[0..<50])
                BatchSearchRequest(vectors: Array(queries.joined()), dimension: 384, k: 1).encode(into: &batch)
                #expect(batch.readableBytes > 64 << 10)  // large enough to need the budget
                try await writer.write(Frame(type: .batchSearch, requestID: 9, body: batch).encoded())
                #expect(try await reader.next()?.header.status == 0)
            }
        }
    }

    /// SIGTERM once dropped a few of 64 pipelined searches: the input side was closed with
    /// frames still unread. Now every fully sent frame is answered (or, late in a long drain,
    /// refused with an error frame).
    @Test func gracefulShutdownAnswersEveryPipelinedSearch() async throws {
        for round in 0..<8 {
            try await withTCPServerGroup(ServerFixture.service()) { (port: Int, group: ServiceGroup) async throws -> Void in
                try await withRawConnection(port: port) { reader, writer in
                    // A ping first, so the connection is accepted and served before shutdown
                    // (one still in the listener's backlog is reset when the listener closes).
                    try await writer.write(Frame(type: .ping, requestID: 999, body: ByteBuffer()).encoded())
                    #expect(try await reader.next()?.header.requestID == 999)
                    var frames = ByteBuffer()
                    for id in 0..<64 {
                        var frame = searchFrame(ServerFixture.queries[id], k: 3, id: UInt32(id))
                        frames.writeBuffer(&frame)
                    }
                    try await writer.write(frames)
                    await group.triggerGracefulShutdown()
                    var answered = Set<UInt32>()
                    while let reply = try await reader.next() {
                        // Answered, or (on a slow machine, after 2 s of draining) refused.
                        let refused =
                            reply.header.status == ProtocolErrorCode.notReady.rawValue
                            && String(buffer: reply.body).contains("shutting down")
                        #expect(reply.header.status == 0 || refused, "round \(round): \(String(buffer: reply.body))")
                        answered.insert(reply.header.requestID)
                    }
                    #expect(answered.count == 64, "round \(round): \(answered.count) of 64 answered")
                }
            }
        }
    }

    @Test func truncatedFramesAndDripFedFrames() async throws {
        try await withTCPServer(ServerFixture.service()) { (port: Int) async throws -> Void in
            // Half a frame, then the client hangs up: the server just drops the connection.
            try await withRawConnection(port: port) { _, writer in
                let frame = searchFrame(Self.query, k: 2, id: 1)
                try await writer.write(frame.getSlice(at: 0, length: 100)!)
            }
            // A client that sends a frame a few bytes at a time still gets its answer, and
            // others are served meanwhile.
            let client = SwannClient(ClientConfiguration(port: port, timeout: .seconds(30)))
            try await withRawConnection(port: port) { reader, writer in
                let frame = searchFrame(Self.query, k: 3, id: 9)
                var offset = 0
                while offset < frame.readableBytes {
                    let length = min(97, frame.readableBytes - offset)
                    try await writer.write(frame.getSlice(at: offset, length: length)!)
                    offset += length
                    if offset % 388 == 0 { #expect(try await client.search(Self.query, k: 1).neighbors.count == 1) }
                    try await Task.sleep(for: .milliseconds(2))
                }
                let reply = try #require(try await reader.next())
                #expect(reply.header.requestID == 9 && reply.header.status == 0)
                var body = reply.body
                #expect(try SearchResponse.decode(from: &body).neighbors.count == 3)
            }
        }
    }

    @Test func apiKeysAreCheckedInTheHelloFrame() async throws {
        try await withTCPServer(ServerFixture.service { $0.apiKeys = ["k1": .write] }) { (port: Int) async throws -> Void in
            try await withRawConnection(port: port) { reader, writer in
                try await writer.write(searchFrame(Self.query, k: 2, id: 1))
                #expect(try await reader.next()?.header.status == ProtocolErrorCode.unauthorized.rawValue)
            }
            do throws(SwannClientError) {
                _ = try await SwannClient(ClientConfiguration(port: port, apiKey: "wrong")).search(Self.query, k: 1)
                Issue.record("a wrong key was accepted")
            } catch {
                #expect(error.code == .server(.unauthorized))
            }
            let client = SwannClient(ClientConfiguration(port: port, timeout: .seconds(30), connectTimeout: .seconds(30), apiKey: "k1"))
            #expect(try await client.search(Self.query, k: 2).neighbors.count == 2)
        }
    }

    @Test func tlsWithAGeneratedCertificate() async throws {
        let (certificate, key) = try TestCertificate.make()
        let context = try NIOSSLContext(
            configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            )
        )
        let expected = try ServerFixture.index.search(Self.query, k: 5)
        try await withTCPServer(ServerFixture.service(), tls: context) { (port: Int) async throws -> Void in
            let client = SwannClient(ClientConfiguration(port: port, tls: .init(trustRootsPath: certificate, serverName: "localhost")))
            #expect(try await client.search(Self.query, k: 5).neighbors == expected)
            // A plaintext client cannot talk to it.
            let plain = SwannClient(ClientConfiguration(port: port, timeout: .seconds(2)))
            await #expect(throws: SwannClientError.self) { try await plain.ping() }
        }
    }

    @Test func connectionFailuresAreTyped() async throws {
        let client = SwannClient(ClientConfiguration(port: 1, timeout: .seconds(1), connectTimeout: .seconds(1)))
        do throws(SwannClientError) {
            try await client.ping()
            Issue.record("connected to port 1")
        } catch {
            #expect(error.code == .connectionFailed, "\(error)")
        }
    }
}
