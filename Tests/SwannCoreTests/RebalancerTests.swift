@_spi(Engine) import SwannCore
import Testing

/// The rebalancer's invariants on synthetic clustered data: no vector is lost or left in a dead
/// list, lists respect the posting limit, the centroid count follows its target, the graph stays
/// valid and navigable, and vectors end in the lists of their nearest centroids.
struct RebalancerTests {
    static let dimension = 24

    /// Clustered float32 rows: `clusters` gaussian blobs.
    static func clustered(count: Int, clusters: Int, seed: UInt64) -> VectorMatrix {
        var rng = SplitMix64(seed: seed)
        let centres = (0..<clusters).map { _ in (0..<dimension).map { _ in rng.nextGaussian() } }
        return try! VectorMatrix.from(
            (0..<count).map { _ in centres[Int(rng.next() % UInt64(clusters))].map { $0 + 0.4 * rng.nextGaussian() } }
        )
    }

    /// Heads chosen on the first `built` rows, graph over them, every row assigned: what a
    /// checkpoint sees after an index of `built` rows took the rest as upserts.
    static func grownPartition(_ vectors: VectorMatrix, built: Int, assignment: PostingAssignment.Configuration) -> Rebalancer.Partition {
        let first = try! VectorMatrix(elementType: .float32, count: built, dimension: dimension)
        first.mutableRawBytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: vectors.rawBytes[0..<built * vectors.rowBytes]))
        var heads = HeadSelection.Configuration()
        heads.centroidRatio = 0.1
        let rows = HeadSelection.selectHeads(in: first, configuration: heads, threads: 2)
        let centroids = try! VectorMatrix.from(rows.map { vectors.floats(at: $0) })
        let graph = CentroidGraph.build(centroids: centroids, configuration: GraphConfiguration(), kernel: L2Float32.self, threads: 2)
        var unlimited = assignment
        unlimited.postingLimit = Int.max
        let assigned = PostingAssignment.assign(
            vectors,
            to: PostingAssignment.CentroidSet(centroids: centroids, graph: graph, rows: rows),
            configuration: unlimited,
            kernel: L2Float32.self,
            threads: 2
        )
        return Rebalancer.Partition(centroids: centroids, graph: graph, lists: assigned.lists)
    }

    static func rules(target: Int, assignment: PostingAssignment.Configuration) -> Rebalancer.Rules {
        Rebalancer.Rules(
            targetCentroids: target,
            assignment: assignment,
            graph: GraphConfiguration(),
            rebalance: RebalanceConfiguration(),
            threads: 2
        )
    }

    /// Every structural invariant of a rebalanced partition.
    static func checkInvariants(_ partition: Rebalancer.Partition, vectors: VectorMatrix, postingLimit: Int) throws {
        let graph = partition.graph
        #expect(partition.lists.count == partition.centroids.count)
        #expect(partition.origins.count == partition.centroids.count)
        #expect(graph.count == partition.centroids.count)
        _ = try CentroidGraph(degree: graph.degree, count: graph.count, entryPoint: graph.entryPoint, neighbors: graph.neighbors)
        // Every vector is somewhere, exactly once per list, and primary in exactly one list.
        var copies = [Int](repeating: 0, count: vectors.count)
        var primaries = [Int](repeating: 0, count: vectors.count)
        for list in partition.lists {
            #expect(list.count <= postingLimit)
            #expect(Set(list.map(\.vector)).count == list.count, "a vector twice in one list")
            for member in list {
                copies[Int(member.vector)] += 1
                if member.isPrimary { primaries[Int(member.vector)] += 1 }
            }
        }
        #expect(copies.allSatisfy { $0 >= 1 }, "\(copies.count { $0 == 0 }) vectors in no list")
        // Navigable: every centroid is reachable from the entry point.
        var seen = Set([graph.entryPoint])
        var frontier = [graph.entryPoint]
        while let node = frontier.popLast() {
            for next in graph.neighbors(of: node) where seen.insert(next).inserted { frontier.append(next) }
        }
        #expect(seen.count >= graph.count * 99 / 100, "\(graph.count - seen.count) of \(graph.count) centroids unreachable")
    }

    /// The share of vectors whose nearest centroid (exact) is one of their lists.
    static func nearestListHitRate(_ partition: Rebalancer.Partition, vectors: VectorMatrix) -> Double {
        var listsOf = [Set<Int>](repeating: [], count: vectors.count)
        for (c, list) in partition.lists.enumerated() { for member in list { listsOf[Int(member.vector)].insert(c) } }
        let nearest = ExactSearch.nearest(queries: vectors, base: partition.centroids, k: 1, metric: .l2)
        let hits = (0..<vectors.count).count { listsOf[$0].contains(Int(nearest.ids[$0])) }
        return Double(hits) / Double(vectors.count)
    }

    @Test func growthSplitsToTheTargetAndKeepsEveryVector() throws {
        let vectors = Self.clustered(count: 6_000, clusters: 40, seed: 3)
        var assignment = PostingAssignment.Configuration()
        assignment.postingLimit = 200
        let before = Self.grownPartition(vectors, built: 600, assignment: assignment)
        #expect(before.lists.contains { $0.count > 200 }, "the grown lists start over the limit")
        let target = 600
        let (after, statistics) = Rebalancer.rebalance(before, vectors: vectors, rules: Self.rules(target: target, assignment: assignment))
        try Self.checkInvariants(after, vectors: vectors, postingLimit: 200)
        #expect(abs(after.centroids.count - target) <= target / 10, "\(after.centroids.count) centroids for a target of \(target)")
        #expect(statistics.splits >= target - before.centroids.count)
        #expect(statistics.movedVectors > 0 && statistics.rounds >= 2)
        // Split centroids are real rows, as the build's heads are.
        for (c, origin) in after.origins.enumerated() {
            if case .row(let row) = origin { #expect(after.centroids.floats(at: c) == vectors.floats(at: row)) }
        }
        let hitRate = Self.nearestListHitRate(after, vectors: vectors)
        #expect(hitRate >= 0.97, "only \(hitRate) of vectors are in their nearest centroid's list")
    }

    @Test func smallListsMergeIntoTheirNeighbours() throws {
        let vectors = Self.clustered(count: 3_000, clusters: 20, seed: 5)
        let assignment = PostingAssignment.Configuration()
        var partition = Self.grownPartition(vectors, built: 3_000, assignment: assignment)
        // Empty a fifth of the lists down to a few members, as deletes would.
        var emptied = 0
        for c in stride(from: 0, to: partition.lists.count, by: 5) {
            partition.lists[c] = Array(partition.lists[c].prefix(3))
            emptied += 1
        }
        // Vectors that lost all their copies would be lost: put them back in list 1.
        var present = Set<UInt32>()
        for list in partition.lists { for member in list { present.insert(member.vector) } }
        for v in 0..<UInt32(vectors.count) where !present.contains(v) {
            partition.lists[1].append(PostingAssignment.Member(vector: v, distance: 0, isPrimary: false))
        }
        let count = partition.centroids.count
        var configuration = assignment
        configuration.postingLimit = Int.max
        let (after, statistics) = Rebalancer.rebalance(partition, vectors: vectors, rules: Self.rules(target: count, assignment: configuration))
        try Self.checkInvariants(after, vectors: vectors, postingLimit: .max)
        #expect(statistics.merges >= emptied, "\(statistics.merges) merges for \(emptied) lists of 3")
        #expect(after.lists.allSatisfy { $0.count >= RebalanceConfiguration().mergeLimit })
        #expect(abs(after.centroids.count - count) <= count / 10 + 1)
        #expect(Self.nearestListHitRate(after, vectors: vectors) >= 0.97)
    }

    /// A centroid whose head row was deleted is clustered again: its list splits around live
    /// rows (or merges when too short) and the count holds; without the flags most stay.
    @Test func headlessListsAreClusteredAgainAroundLiveRows() throws {
        let vectors = Self.clustered(count: 3_000, clusters: 20, seed: 11)
        let assignment = PostingAssignment.Configuration()
        var partition = Self.grownPartition(vectors, built: 3_000, assignment: assignment)
        let count = partition.centroids.count
        let headless = (0..<count).map { $0 % 3 == 0 }
        let flagged = headless.count { $0 }
        var configuration = assignment
        configuration.postingLimit = Int.max
        let rules = Self.rules(target: count, assignment: configuration)

        let (untouched, _) = Rebalancer.rebalance(partition, vectors: vectors, rules: rules)
        let kept = Set(untouched.origins.compactMap { if case .centroid(let c) = $0 { c } else { nil } })
        // Without the flags only lists past the split length move (a few of these).
        let stayed = (0..<count).filter { headless[$0] }.count { kept.contains($0) }
        #expect(stayed * 10 >= flagged * 9, "without flags \(stayed) of \(flagged) stayed")

        partition.headless = headless
        let (after, statistics) = Rebalancer.rebalance(partition, vectors: vectors, rules: rules)
        try Self.checkInvariants(after, vectors: vectors, postingLimit: .max)
        let survivors = Set(after.origins.compactMap { if case .centroid(let c) = $0 { c } else { nil } })
        #expect((0..<count).filter { headless[$0] }.allSatisfy { !survivors.contains($0) }, "a headless centroid survived")
        #expect(statistics.splits + statistics.merges >= flagged)
        #expect(abs(after.centroids.count - count) <= count / 10 + 1, "\(after.centroids.count) centroids, \(count) before")
        for (c, origin) in after.origins.enumerated() {
            if case .row(let row) = origin { #expect(after.centroids.floats(at: c) == vectors.floats(at: row)) }
        }
        #expect(Self.nearestListHitRate(after, vectors: vectors) >= 0.97)
    }

    @Test func identicalVectorsCannotSplitAndStillEndWithinTheLimit() throws {
        // 500 copies of one vector and 500 others: the duplicates' list cannot split.
        var rows = [[Float]](repeating: [Float](repeating: 0.5, count: Self.dimension), count: 500)
        rows += (0..<500).map { i in (0..<Self.dimension).map { Float(($0 * 31 + i * 7) % 97) / 97 } }
        let vectors = try VectorMatrix.from(rows)
        var assignment = PostingAssignment.Configuration()
        assignment.postingLimit = 64
        assignment.replicaCount = 2
        assignment.candidateCount = 8
        let centroids = try VectorMatrix.from([rows[0], rows[500]])
        let graph = CentroidGraph.build(centroids: centroids, configuration: GraphConfiguration(), kernel: L2Float32.self, threads: 1)
        let lists = [
            (0..<500).map { PostingAssignment.Member(vector: UInt32($0), distance: 0, isPrimary: true) },
            (500..<1_000).map { PostingAssignment.Member(vector: UInt32($0), distance: 0, isPrimary: true) },
        ]
        let (after, _) = Rebalancer.rebalance(
            Rebalancer.Partition(centroids: centroids, graph: graph, lists: lists),
            vectors: vectors,
            rules: Self.rules(target: 2, assignment: assignment)
        )
        // Primaries are never dropped by the cap, so the duplicates' list keeps all 500.
        var copies = [Int](repeating: 0, count: vectors.count)
        for list in after.lists { for member in list { copies[Int(member.vector)] += 1 } }
        #expect(copies.allSatisfy { $0 >= 1 })
        #expect(after.lists.filter { $0.count > 64 }.allSatisfy { list in list.allSatisfy(\.isPrimary) })
    }

    @Test func rebalancingIsDeterministic() {
        let vectors = Self.clustered(count: 2_000, clusters: 10, seed: 9)
        let assignment = PostingAssignment.Configuration()
        let before = Self.grownPartition(vectors, built: 400, assignment: assignment)
        let first = Rebalancer.rebalance(before, vectors: vectors, rules: Self.rules(target: 200, assignment: assignment))
        let second = Rebalancer.rebalance(before, vectors: vectors, rules: Self.rules(target: 200, assignment: assignment))
        #expect(first.0.graph == second.0.graph)
        #expect(first.0.lists == second.0.lists)
        #expect(first.1 == second.1)
    }
}
