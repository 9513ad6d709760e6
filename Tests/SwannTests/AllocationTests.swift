import CSwannAllocationCounter
import Swann
import SwannTestSupport
import Testing

/// A warm query allocates nothing: its heaps, beam, candidate and list arrays and result live in
/// per-thread scratch memory that keeps its capacity (mallocs counted by CSwannAllocationCounter).
@Suite(.enabled(if: swann_allocation_counting_available() != 0, "needs the glibc allocation counter (not under a sanitizer)"))
struct AllocationTests {
    /// Mallocs made by `searches` queries on this thread after the same queries warmed it up.
    /// Synchronous on purpose: the whole measurement stays on one thread.
    static func allocationsPerQuery(_ index: Index, parameters: SearchParameters? = nil, searches: Int = 200) throws -> Int {
        let queries = BundledExample.queryRows
        var neighbors: [Neighbor] = []
        // Warm-up is the same queries: buffers grow to the largest query's reads once, then stay.
        for q in 0..<searches {
            _ = try queries[q % queries.count].withUnsafeBufferPointer { try index.search($0, k: 10, parameters: parameters, into: &neighbors) }
        }
        let before = swann_thread_allocations()
        for q in 0..<searches {
            _ = try queries[q % queries.count].withUnsafeBufferPointer { try index.search($0, k: 10, parameters: parameters, into: &neighbors) }
        }
        let after = swann_thread_allocations()
        #expect(neighbors.count == 10)
        return Int(after - before)
    }

    @Test(arguments: Index.IOMode.allCases)
    func aWarmQueryAllocatesNothing(io: Index.IOMode) throws {
        let index = try Index.open(at: BundledExample.index, options: Index.OpenOptions(io: io))
        let allocations = try Self.allocationsPerQuery(index)
        #expect(allocations == 0, "\(allocations) mallocs in 200 warm queries (io \(io))")
    }

    @Test func aWarmQueryWithExactRerankingAllocatesNothing() throws {
        let index = try Index.open(at: QuantizedStorageTests.examplePath)
        let allocations = try Self.allocationsPerQuery(index)
        #expect(allocations == 0, "\(allocations) mallocs in 200 warm queries")
    }

    @Test(arguments: Index.IOMode.allCases)
    func aWarmRaBitQQueryAllocatesNothing(io: Index.IOMode) throws {
        let index = try Index.open(at: RaBitQStorageTests.examplePath, options: Index.OpenOptions(io: io))
        let allocations = try Self.allocationsPerQuery(index)
        #expect(allocations == 0, "\(allocations) mallocs in 200 warm queries (io \(io))")
    }

    @Test func perCallParametersAndEveryReadChecksumsAllocateNothing() throws {
        let index = try Index.open(at: BundledExample.index)
        var parameters = index.defaultParameters
        parameters.maxPostings = 128
        parameters.searchCandidates = 256
        parameters.checksums = .everyRead
        let allocations = try Self.allocationsPerQuery(index, parameters: parameters)
        #expect(allocations == 0, "\(allocations) mallocs in 200 warm queries")
    }

    /// The counter counts: a fresh array is a malloc on this thread.
    @Test func theCounterSeesAnAllocation() {
        let before = swann_thread_allocations()
        let doubled = BundledExample.queryRows[0].map { $0 * 2 }
        let after = swann_thread_allocations()
        #expect(doubled.count == BundledExample.queryRows[0].count)
        #expect(after - before >= 1)
    }
}
