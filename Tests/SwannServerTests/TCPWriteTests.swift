import NIOCore
import SwannClient
import SwannProtocol
import SwannServer
import Testing

/// The TCP protocol's `upsert`, `delete` and `getPoint` frames through `SwannClient`, with
/// the same rules as HTTP: key roles, read-only servers, batches whole or not at all.
struct TCPWriteTests {
    static let vector = ServerFixture.queries[5]

    @Test func upsertGetSearchDeleteThroughTheClient() async throws {
        let service = try ServerFixture.writableService()
        try await withTCPServer(service) { (port: Int) async throws -> Void in
            let client = SwannClient(ClientConfiguration(port: port, timeout: .seconds(30)))
            var shifted = Self.vector
            shifted[0] += 0.01
            #expect(try await client.upsert(ids: [900_000, 900_001], vectors: [Self.vector, shifted]) == 2)
            // Stored as float16, like the example's postings.
            let stored = try #require(try await client.point(id: 900_001))
            #expect(zip(stored, shifted).allSatisfy { abs($0 - $1) <= 1e-3 * max(1, abs($1)) })
            #expect(try await client.point(id: 123_456_789) == nil)
            let hits = try await client.search(Self.vector, k: 2).neighbors.map(\.id)
            #expect(Set(hits) == [900_000, 900_001])
            #expect(try await client.delete(ids: [900_000, 5_555_555], durable: false) == 1)
            #expect(try await client.point(id: 900_000) == nil)
            #expect(!(try await client.search(Self.vector, k: 10).neighbors.map(\.id)).contains(900_000))

            // A bad batch is refused whole; the connection stays usable.
            var infinite = Self.vector
            infinite[3] = .infinity
            do throws(SwannClientError) {
                try await client.upsert(ids: [900_010, 900_011], vectors: [Self.vector, infinite])
                Issue.record("a vector with ∞ was stored")
            } catch {
                #expect(error.code == .server(.invalidQuery), "\(error)")
            }
            #expect(try await client.point(id: 900_010) == nil)
            do throws(SwannClientError) {
                try await client.upsert(ids: [1], vectors: [[1, 2, 3]])
                Issue.record("a vector of the wrong dimension was stored")
            } catch {
                #expect(error.code == .server(.invalidQuery) && error.message.contains("dimension"), "\(error)")
            }
            #expect(try await client.search(Self.vector, k: 1).neighbors.first?.id == 900_001)
            await client.close()
        }
    }

    @Test func readKeysAndReadOnlyServersCannotWriteOverTCP() async throws {
        let keyed = try ServerFixture.writableService { $0.apiKeys = ["r": .read, "w": .write] }
        try await withTCPServer(keyed) { (port: Int) async throws -> Void in
            let reader = SwannClient(ClientConfiguration(port: port, timeout: .seconds(30), connectTimeout: .seconds(30), apiKey: "r"))
            #expect(try await reader.search(Self.vector, k: 1).neighbors.count == 1)
            #expect(try await reader.point(id: 3) != nil)
            do throws(SwannClientError) {
                try await reader.upsert(ids: [1], vectors: [Self.vector])
                Issue.record("a read key wrote")
            } catch {
                #expect(error.code == .server(.forbidden), "\(error)")
                #expect(error.message.contains("role read"), "\(error)")
            }
            do throws(SwannClientError) {
                try await reader.delete(ids: [1])
                Issue.record("a read key deleted")
            } catch {
                #expect(error.code == .server(.forbidden))
            }
            #expect(try await reader.point(id: 1) != nil, "nothing was deleted")
            let writer = SwannClient(ClientConfiguration(port: port, timeout: .seconds(30), connectTimeout: .seconds(30), apiKey: "w"))
            #expect(try await writer.delete(ids: [1]) == 1)
            await reader.close()
            await writer.close()
        }
        try await withTCPServer(ServerFixture.service { $0.readOnly = true }) { (port: Int) async throws -> Void in
            let client = SwannClient(ClientConfiguration(port: port, timeout: .seconds(30)))
            do throws(SwannClientError) {
                try await client.upsert(ids: [1], vectors: [Self.vector])
                Issue.record("a read-only server wrote")
            } catch {
                #expect(error.code == .server(.forbidden), "\(error)")
            }
            await client.close()
        }
    }
}
