/// SPANN's closure assignment with the RNG rule: which posting lists each vector is copied into.
///
/// For vector x with candidate centroids c₀, c₁, … in ascending distance (from the centroid
/// graph), x always goes to c₀; it is also copied to cᵢ when
/// - `d(x, cᵢ) ≤ (1 + closureEpsilon) · d(x, c₀)` (the closure rule: x is near the boundary), and
/// - no already chosen centroid s has `rngFactor · d(cᵢ, s) ≤ d(x, cᵢ)` (the RNG rule: cᵢ does
///   not lie behind s as seen from x, so copies spread in different directions),
/// stopping at `replicaCount` copies. Distances are squared L2 (on unit vectors this orders
/// exactly as cosine). Then each list is capped at `postingLimit` entries: a list that overflows
/// drops its farthest *replicas*; a vector's nearest list always keeps it, so no vector is lost.
public struct PostingAssignment: Sendable {
    /// What vectors are assigned to: the centroids, the graph over them, and (when the
    /// centroids are data rows) the row each one is.
    package struct CentroidSet {
        package var centroids: VectorMatrix
        package var graph: CentroidGraph
        package var rows: [Int]?

        package init(centroids: VectorMatrix, graph: CentroidGraph, rows: [Int]? = nil) {
            self.centroids = centroids
            self.graph = graph
            self.rows = rows
        }
    }

    /// How vectors are assigned to posting lists (closure + RNG rule, replicas, cap).
    public struct Configuration: Sendable, Hashable, Codable {
        /// Most lists a vector is copied into (SPTAG `ReplicaCount`, 8). 1…32; 12 by default: the
        /// RNG rule stops most vectors earlier (7.4 copies per vector on minilm-100k), and the
        /// extra boundary copies buy recall per list read (PARAMETERS.md).
        public var replicaCount = 12
        /// ε₁ of the closure rule; `.infinity` disables it (SPTAG's behaviour).
        public var closureEpsilon: Float = 10
        /// RNG rule factor (SPTAG `RNGFactor`); 0 disables the rule.
        public var rngFactor: Float = 1
        /// Centroid candidates looked at per vector (SPTAG `InternalResultNum`, 64).
        public var candidateCount = 64
        /// Cap on entries per list (SPTAG `PostingVectorLimit`).
        public var postingLimit = 256
        /// The defaults (docs/PARAMETERS.md).
        public init() {}

        /// Checks every field's range.
        public func validate() throws(ConfigurationError) {
            guard (1...32).contains(replicaCount) else { throw ConfigurationError("replicas \(replicaCount) is outside 1...32") }
            // Finite too: the manifest records them, and JSON has no ∞ (`inf` once failed only
            // when the finished build was written).
            guard closureEpsilon >= 0, closureEpsilon.isFinite else {
                throw ConfigurationError("closure epsilon \(closureEpsilon) must be finite and ≥ 0")
            }
            guard rngFactor >= 0, rngFactor.isFinite else { throw ConfigurationError("rng factor \(rngFactor) must be finite and ≥ 0") }
            guard candidateCount >= replicaCount else {
                throw ConfigurationError("centroid candidates \(candidateCount) must be ≥ replicas \(replicaCount)")
            }
            guard postingLimit >= 1 else { throw ConfigurationError("posting limit \(postingLimit) must be ≥ 1") }
        }
    }

    /// One entry of a posting list.
    package struct Member: Sendable, Hashable {
        package var vector: UInt32
        package var distance: Float
        /// Whether this is the vector's nearest centroid (never dropped by the cap).
        package var isPrimary: Bool

        package init(vector: UInt32, distance: Float, isPrimary: Bool) {
            self.vector = vector
            self.distance = distance
            self.isPrimary = isPrimary
        }
    }

    /// `lists[c]` holds the members of centroid c's posting list, nearest first.
    package var lists: [[Member]]
    /// `copyHistogram[n]` = number of vectors stored in exactly n lists.
    package var copyHistogram: [Int]
    /// Replicas removed by the posting cap.
    package var droppedByLimit: Int

    /// Assigns every row of `vectors` to posting lists of `centroids`.
    ///
    /// `Kernel` must be the squared-L2 kernel of the rows' element type.
    /// - Parameter progress: called with the number of vectors in each finished block.
    package static func assign<Kernel: DistanceKernel>(
        _ vectors: VectorMatrix,
        to centroids: CentroidSet,
        configuration: Configuration,
        kernel: Kernel.Type,
        threads: Int,
        progress: (@Sendable (Int) -> Void)? = nil
    ) -> PostingAssignment {
        let n = vectors.count
        // A centroid that is a data row always gets that row as a primary member, even when the
        // approximate graph search misses it, so no list is left empty.
        var headOf = [Int: Int]()
        for (c, row) in (centroids.rows ?? []).enumerated() { headOf[row] = c }
        let slots = configuration.replicaCount
        // choices[v * slots + r] = centroid, or UInt32.max; parallel writes touch disjoint rows.
        var choices = [UInt32](repeating: .max, count: n * slots)
        var choiceDistances = [Float](repeating: 0, count: n * slots)
        let blockSize = 256
        let blocks = (n + blockSize - 1) / blockSize
        choices.withUnsafeMutableBufferPointer { choiceBuffer in
            choiceDistances.withUnsafeMutableBufferPointer { distanceBuffer in
                let shared = UncheckedSendable((choiceBuffer, distanceBuffer))
                Parallel.forEach(items: blocks, threads: threads) { block in
                    let (choiceOut, distanceOut) = shared.value
                    var scratch = GraphSearchScratch(nodeCount: centroids.centroids.count)
                    var distanceCount = 0
                    var candidates: [(node: Int, distance: Float)] = []
                    for v in block * blockSize..<min((block + 1) * blockSize, n) {
                        centroids.graph.search(
                            KernelNodeDistance(query: vectors.uncheckedRow(v), rows: centroids.centroids, kernel: Kernel.self),
                            beamWidth: configuration.candidateCount,
                            scratch: &scratch,
                            distanceCount: &distanceCount,
                            into: &candidates
                        )
                        if let own = headOf[v] {
                            candidates.removeAll { $0.node == own }
                            candidates.insert((own, 0), at: 0)
                        }
                        let chosen = choose(
                            from: candidates,
                            centroids: centroids.centroids,
                            configuration: configuration,
                            kernel: Kernel.self,
                            into: (choiceOut.baseAddress! + v * slots, distanceOut.baseAddress! + v * slots)
                        )
                        precondition(chosen >= 1, "every vector has a nearest centroid")
                    }
                    progress?(min((block + 1) * blockSize, n) - block * blockSize)
                }
            }
        }
        return collect(
            choices: choices,
            distances: choiceDistances,
            vectorCount: n,
            centroidCount: centroids.centroids.count,
            configuration: configuration
        )
    }

    /// The closure and RNG rules for one vector: walks `candidates` (nearest first) and writes
    /// the chosen centroids and their distances into `slots` (`replicaCount` of each).
    /// - Returns: how many were chosen.
    package static func choose<Kernel: DistanceKernel>(
        from candidates: [(node: Int, distance: Float)],
        centroids: VectorMatrix,
        configuration: Configuration,
        kernel: Kernel.Type,
        into slots: (centroids: UnsafeMutablePointer<UInt32>, distances: UnsafeMutablePointer<Float>)
    ) -> Int {
        var chosen = 0
        let limit = candidates[0].distance * (1 + configuration.closureEpsilon)
        for candidate in candidates {
            if chosen > 0, candidate.distance > limit { break }
            let blocked = (0..<chosen).contains { i in
                configuration.rngFactor
                    * Kernel.distance(
                        centroids.uncheckedRow(candidate.node),
                        centroids.uncheckedRow(Int(slots.centroids[i])),
                        dimension: centroids.dimension
                    )
                    <= candidate.distance
            }
            if blocked { continue }
            slots.distances[chosen] = candidate.distance
            slots.centroids[chosen] = UInt32(candidate.node)
            chosen += 1
            if chosen == configuration.replicaCount { break }
        }
        return chosen
    }

    /// Groups choices into lists and applies the posting cap.
    static func collect(
        choices: [UInt32],
        distances: [Float],
        vectorCount: Int,
        centroidCount: Int,
        configuration: Configuration
    ) -> PostingAssignment {
        let slots = configuration.replicaCount
        var lists = [[Member]](repeating: [], count: centroidCount)
        for v in 0..<vectorCount {
            for r in 0..<slots {
                let c = choices[v * slots + r]
                if c == .max { break }
                lists[Int(c)].append(Member(vector: UInt32(v), distance: distances[v * slots + r], isPrimary: r == 0))
            }
        }
        var copies = [Int](repeating: 0, count: vectorCount)
        var dropped = 0
        for c in 0..<centroidCount {
            lists[c].sort { ($0.distance, $0.vector) < ($1.distance, $1.vector) }
            if lists[c].count > configuration.postingLimit {
                // Keep every primary member, then the nearest replicas up to the cap.
                let primaries = lists[c].filter(\.isPrimary).count
                var replicaBudget = max(0, configuration.postingLimit - primaries)
                let before = lists[c].count
                lists[c] = lists[c].filter { member in
                    if member.isPrimary { return true }
                    if replicaBudget > 0 {
                        replicaBudget -= 1
                        return true
                    }
                    return false
                }
                dropped += before - lists[c].count
            }
            for member in lists[c] { copies[Int(member.vector)] += 1 }
        }
        var histogram = [Int](repeating: 0, count: slots + 1)
        for count in copies { histogram[count] += 1 }
        return PostingAssignment(lists: lists, copyHistogram: histogram, droppedByLimit: dropped)
    }
}
