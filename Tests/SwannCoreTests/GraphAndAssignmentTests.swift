@_spi(Engine) import SwannCore
import Testing

struct GraphAndAssignmentTests {
    /// Clustered float32 data (like embeddings): `clusters` gaussian blobs.
    func clustered(count: Int, dimension: Int, clusters: Int, seed: UInt64) -> VectorMatrix {
        var rng = SplitMix64(seed: seed)
        let centres = (0..<clusters).map { _ in (0..<dimension).map { _ in rng.nextGaussian() } }
        return try! VectorMatrix.from(
            (0..<count).map { _ in
                centres[Int(rng.next() % UInt64(clusters))].map { $0 + 0.4 * rng.nextGaussian() }
            }
        )
    }

    @Test func graphSearchFindsTheTrueNearestCentroids() {
        let centroids = clustered(count: 2_000, dimension: 24, clusters: 30, seed: 1)
        let graph = CentroidGraph.build(centroids: centroids, configuration: GraphConfiguration(), kernel: L2Float32.self)
        #expect(graph.averageDegree > 4)
        let queries = clustered(count: 200, dimension: 24, clusters: 30, seed: 2)
        let truth = ExactSearch.nearest(queries: queries, base: centroids, k: 10, metric: .l2)
        var scratch = GraphSearchScratch(nodeCount: centroids.count)
        var found = 0
        var distances = 0
        for q in 0..<queries.count {
            let result = graph.search(
                queries.row(q),
                centroids: centroids,
                beamWidth: 64,
                kernel: L2Float32.self,
                scratch: &scratch,
                distanceCount: &distances
            )
            let got = Set(result.prefix(10).map { Int64($0.node) })
            found += truth.ids(of: q).filter(got.contains).count
            #expect(zip(result, result.dropFirst()).allSatisfy { $0.distance <= $1.distance })
        }
        let recall = Double(found) / Double(queries.count * 10)
        #expect(recall >= 0.95, "centroid recall@10 at beam 64: \(recall)")
        #expect(distances < queries.count * centroids.count / 2, "the graph must beat brute force")
    }

    @Test func quantizedRowsRoundTripWithinHalfAStep() {
        let rows = clustered(count: 500, dimension: 40, clusters: 5, seed: 7)
        let quantized = QuantizedRows(rows)
        #expect(quantized.step > 0)
        let codes = quantized.codes.rawBytes.bindMemory(to: Int8.self)
        let floats = rows.rawBytes.bindMemory(to: Float.self)
        var clipped = 0
        for i in 0..<floats.count {
            #expect(codes[i] >= -127 && codes[i] <= 127)
            let error = abs(Float(codes[i]) * quantized.step - floats[i])
            if abs(floats[i]) > 127 * quantized.step { clipped += 1 } else { #expect(error <= quantized.step / 2 * 1.0001) }
        }
        #expect(clipped <= floats.count / 1000, "only the outermost 0.01% clip: \(clipped) of \(floats.count)")
        // A query is encoded exactly like a row.
        var code = [Int8](repeating: 0, count: 40)
        rows.floats(at: 3).withUnsafeBufferPointer { q in code.withUnsafeMutableBytes { quantized.encode(q.baseAddress!, into: $0.baseAddress!) } }
        #expect(code == Array(codes[3 * 40..<4 * 40]))
    }

    @Test func graphWalkOverQuantizedRowsFindsTheTrueNearestCentroids() {
        let centroids = clustered(count: 2_000, dimension: 24, clusters: 30, seed: 1)
        let graph = CentroidGraph.build(centroids: centroids, configuration: GraphConfiguration(), kernel: L2Float32.self)
        let quantized = QuantizedRows(centroids)
        let queries = clustered(count: 200, dimension: 24, clusters: 30, seed: 2)
        let truth = ExactSearch.nearest(queries: queries, base: centroids, k: 10, metric: .l2)
        var scratch = GraphSearchScratch(nodeCount: centroids.count)
        var code = [Int8](repeating: 0, count: 24)
        var found = 0
        var distances = 0
        for q in 0..<queries.count {
            let result = queries.floats(at: q).withUnsafeBufferPointer { query in
                code.withUnsafeMutableBytes { codeBytes in
                    quantized.encode(query.baseAddress!, into: codeBytes.baseAddress!)
                    let measure = KernelNodeDistance(query: UnsafeRawPointer(codeBytes.baseAddress!), rows: quantized.codes, kernel: L2Int8.self)
                    return graph.search(measure, beamWidth: 64, scratch: &scratch, distanceCount: &distances)
                }
            }
            let got = Set(result.map { Int64($0.node) })
            found += truth.ids(of: q).filter(got.contains).count
        }
        let recall = Double(found) / Double(queries.count * 10)
        #expect(recall >= 0.95, "true top-10 centroids inside the quantised walk's beam of 64: \(recall)")
    }

    @Test func headSelectionHitsTheRatioOverManySeeds() {
        for seed in UInt64(0)..<6 {
            let data = clustered(count: 3_000, dimension: 16, clusters: 12, seed: seed)
            var configuration = HeadSelection.Configuration()
            configuration.seed = seed
            configuration.centroidRatio = 0.1
            let heads = HeadSelection.selectHeads(in: data, configuration: configuration, threads: 2)
            #expect(abs(heads.count - 300) <= 30, "seed \(seed): \(heads.count) heads, target 300 ± 10%")
            #expect(Set(heads).count == heads.count && heads.allSatisfy { $0 >= 0 && $0 < 3_000 })
        }
    }

    @Test func balancePenaltyEvensOutClusterSizes() {
        // Two dense blobs of very different sizes (9:1): plain k-means follows the blobs.
        var largest: [Float: Int] = [:]
        for factor: Float in [0, BalancedKMeans.Configuration().balanceFactor] {
            var rng = SplitMix64(seed: 4)
            let rows = (0..<2_000).map { i in (0..<8).map { _ in (i < 1_800 ? 0 : 10) + rng.nextGaussian() } }
            var configuration = BalancedKMeans.Configuration()
            configuration.balanceFactor = factor
            let kMeans = BalancedKMeans(data: try! VectorMatrix.from(rows), configuration: configuration, threads: 2)
            let assignment = kMeans.cluster(Array(0..<2_000), k: 8, rng: &rng)
            var sizes = [Int](repeating: 0, count: 8)
            for c in assignment { sizes[Int(c)] += 1 }
            largest[factor] = sizes.max()!
        }
        let balanced = largest[BalancedKMeans.Configuration().balanceFactor]!
        #expect(balanced <= 2_000 / 8 * 3 / 2, "largest balanced cluster \(balanced), average 250")
        #expect(balanced <= largest[0]!, "the penalty must not make balance worse")
    }

    @Test func assignmentHonoursClosureRNGReplicaAndCapRules() {
        for seed in UInt64(0)..<3 {
            let data = clustered(count: 1_500, dimension: 16, clusters: 10, seed: seed + 10)
            var headConfiguration = HeadSelection.Configuration()
            headConfiguration.centroidRatio = 0.1
            let heads = HeadSelection.selectHeads(in: data, configuration: headConfiguration, threads: 2)
            let centroids = try! VectorMatrix.from(heads.map { data.floats(at: $0) })
            let graph = CentroidGraph.build(centroids: centroids, configuration: GraphConfiguration(), kernel: L2Float32.self)
            var configuration = PostingAssignment.Configuration()
            configuration.closureEpsilon = 2
            configuration.postingLimit = 40
            let result = PostingAssignment.assign(
                data,
                to: PostingAssignment.CentroidSet(centroids: centroids, graph: graph),
                configuration: configuration,
                kernel: L2Float32.self,
                threads: 2
            )
            var listsOf = [[(centroid: Int, member: PostingAssignment.Member)]](repeating: [], count: data.count)
            for (c, list) in result.lists.enumerated() {
                #expect(list.count <= configuration.postingLimit || list.allSatisfy(\.isPrimary))
                for member in list { listsOf[Int(member.vector)].append((c, member)) }
            }
            #expect(result.copyHistogram[0] == 0)
            for v in 0..<data.count {
                let copies = listsOf[v]
                #expect(!copies.isEmpty && copies.count <= configuration.replicaCount)
                #expect(copies.filter(\.member.isPrimary).count == 1, "vector \(v) has exactly one primary list")
                let primary = copies.first { $0.member.isPrimary }!
                for copy in copies where !copy.member.isPrimary {
                    // Closure: within (1 + ε₁) of the nearest.
                    #expect(copy.member.distance <= primary.member.distance * (1 + configuration.closureEpsilon) + 1e-4)
                    // RNG: no other chosen centroid nearer to this one than the vector is… for those chosen before it.
                    for other in copies where other.member.distance < copy.member.distance {
                        let between = Distance.between(centroids.floats(at: copy.centroid), centroids.floats(at: other.centroid), metric: .l2)
                        #expect(configuration.rngFactor * between > copy.member.distance - 1e-3)
                    }
                }
            }
        }
    }
}
