/// How a live index keeps its partition in shape as vectors come and go (docs/WRITES.md).
public struct RebalanceConfiguration: Sendable, Hashable, Codable {
    /// Whether checkpoints rebalance at all (split, merge, reassign). Off, a checkpoint only
    /// compacts: it drops dead entries and keeps every centroid.
    public var isEnabled = true
    /// A list longer than this many times the mean list length splits (and the posting limit
    /// caps it in any case); the build's lists have a p99 of about 2.3× the mean.
    public var splitFactor = 2.5
    /// A list with fewer entries than this is merged into its neighbours (SPFresh's merge
    /// threshold, 10).
    public var mergeLimit = 10
    /// After a split, the lists of this many centroids nearest to the old one are checked for
    /// vectors that are now closer to a new centroid than to their own (LIRE's second condition).
    public var reassignNeighbors = 64
    /// Most split-and-merge rounds one checkpoint runs (each list splits at most once a round).
    public var maxRounds = 16
    /// How far the centroid count may be from `centroidRatio × live vectors`, either way, before
    /// lists split or merge to close the gap (hysteresis: a steady index whose live count swings
    /// with its writes does not split and merge in turn).
    public var surplusFraction = 0.25
    /// A checkpoint starts once deleted or replaced vectors reach this fraction of the index
    /// (their entries are dead weight in every read of their lists); it compacts them away.
    public var compactionFraction = 0.1
    /// A checkpoint starts once this many lists (and at least 1% of them) pass the posting limit.
    public var oversizedListsDue = 8
    /// Threads a checkpoint's rebalancing uses: half the cores by default, so that searches
    /// keep the other half while it runs.
    public var threads = max(1, Parallel.coreCount / 2)
    /// Seeds the 2-means of each split.
    public var seed: UInt64 = 1

    /// The defaults (docs/PARAMETERS.md).
    public init() {}

    /// Checks every field's range.
    public func validate() throws(ConfigurationError) {
        guard splitFactor >= 1, splitFactor.isFinite else { throw ConfigurationError("split factor \(splitFactor) must be finite and ≥ 1") }
        guard mergeLimit >= 0 else { throw ConfigurationError("merge limit \(mergeLimit) must be ≥ 0") }
        guard (1...4096).contains(reassignNeighbors) else {
            throw ConfigurationError("reassign neighbours \(reassignNeighbors) is outside 1...4096")
        }
        guard (1...64).contains(maxRounds) else { throw ConfigurationError("rebalance rounds \(maxRounds) is outside 1...64") }
        guard threads >= 1 else { throw ConfigurationError("rebalance threads \(threads) must be ≥ 1") }
        guard compactionFraction > 0, compactionFraction <= 1 else {
            throw ConfigurationError("compaction fraction \(compactionFraction) is outside (0, 1]")
        }
        guard oversizedListsDue >= 1 else { throw ConfigurationError("oversized lists due \(oversizedListsDue) must be ≥ 1") }
        guard surplusFraction >= 0, surplusFraction.isFinite else {
            throw ConfigurationError("surplus fraction \(surplusFraction) must be finite and ≥ 0")
        }
    }
}

/// What rebalancing did: per checkpoint, and summed over an index's life in its manifest.
public struct RebalanceStatistics: Sendable, Hashable, Codable {
    /// Lists split in two (each adds one centroid).
    public var splits = 0
    /// Lists merged into their neighbours (each removes one centroid).
    public var merges = 0
    /// Vectors whose lists were chosen again (members of split and merged lists, and
    /// neighbours now closer to a new centroid).
    public var movedVectors = 0
    /// Vectors whose list membership was checked against new centroids (LIRE's second condition).
    public var checkedVectors = 0
    /// Split-and-merge rounds run.
    public var rounds = 0

    /// No work.
    public init() {}

    /// The sum of two runs.
    public static func + (a: Self, b: Self) -> Self {
        var sum = a
        sum.splits += b.splits
        sum.merges += b.merges
        sum.movedVectors += b.movedVectors
        sum.checkedVectors += b.checkedVectors
        sum.rounds += b.rounds
        return sum
    }
}

/// Rebalances a partition after writes, after SPFresh's LIRE protocol (Xu et al., SOSP 2023):
///
/// - **split**: a list over the posting limit, or — while the index has fewer centroids than its
///   build's `centroidRatio × live vectors` — one of the longest lists, is split by balanced
///   2-means into two lists whose centroids are the two means; the old centroid leaves the graph
///   (its in-edges are re-pruned over its neighbours, FreshDiskANN's delete consolidation) and the
///   new ones are inserted like the build inserts (beam search, α-RNG prune, back edges);
/// - **refresh**: a list whose centroid has lost its head (the data row it stands on was
///   deleted) is split like a long one, or merged when too short to split, and the count is
///   held by merging the shortest lists: the region is clustered again around live rows;
/// - **merge**: a list with fewer than `mergeLimit` entries, or one of the shortest while the
///   index has more than `(1 + surplusFraction) ×` the centroids it should, leaves the graph;
/// - **reassign**: members of split and merged lists, and members of the `reassignNeighbors`
///   lists nearest to a split that are now closer to a new centroid than to their own, are
///   assigned again with the build's closure and RNG rules (all their copies move).
///
/// Rounds repeat until no list needs work (a list split in two may still be too long). Runs
/// on whole in-memory lists at a checkpoint, so a crash cannot leave a half-moved vector: the
/// checkpoint's files are swapped in atomically or not at all.
package enum Rebalancer {
    /// Centroids, their graph and their lists.
    package struct Partition {
        /// Float32 centroid rows (the geometry every rule measures in).
        package var centroids: VectorMatrix
        package var graph: CentroidGraph
        /// Members of each list: rows of the `vectors` given to `rebalance`.
        package var lists: [[PostingAssignment.Member]]
        /// Where each centroid came from.
        package var origins: [Origin]
        /// Centroids whose head row (the data row they stand on) has been deleted; empty when
        /// none is. `rebalance` refreshes their lists.
        package var headless: [Bool]

        package init(centroids: VectorMatrix, graph: CentroidGraph, lists: [[PostingAssignment.Member]], headless: [Bool] = []) {
            precondition(headless.isEmpty || headless.count == centroids.count, "one headless flag per centroid")
            self.centroids = centroids
            self.graph = graph
            self.lists = lists
            self.headless = headless
            origins = (0..<centroids.count).map { .centroid($0) }
        }
    }

    /// Where a centroid of a rebalanced partition came from.
    package enum Origin: Hashable, Sendable {
        /// Centroid `n` of the partition before.
        case centroid(Int)
        /// A split made it from row `r` of the vectors (the member nearest its half's mean).
        case row(Int)
    }

    /// What `rebalance` works towards and with.
    package struct Rules {
        /// Centroids the live vectors should have (`centroidRatio × live vectors`, at least 1).
        package var targetCentroids: Int
        package var assignment: PostingAssignment.Configuration
        package var graph: GraphConfiguration
        package var rebalance: RebalanceConfiguration
        package var threads: Int
        /// Whether a centroid count within `surplusFraction` of the target stays (a checkpoint
        /// the writes started) or is brought to the target (one asked for).
        package var toleratesSurplus: Bool

        package init(
            targetCentroids: Int,
            assignment: PostingAssignment.Configuration,
            graph: GraphConfiguration,
            rebalance: RebalanceConfiguration,
            threads: Int,
            toleratesSurplus: Bool = true
        ) {
            self.targetCentroids = targetCentroids
            self.assignment = assignment
            self.graph = graph
            self.rebalance = rebalance
            self.threads = threads
            self.toleratesSurplus = toleratesSurplus
        }
    }

    /// The length past which a list splits: `splitFactor` × the mean list length the index
    /// should have (`entries / centroids`), and never more than the posting limit. The build's
    /// limit (256) is 5× its mean list length, so the limit alone would let busy regions grow
    /// long lists for ever while a fresh build would give them more centroids.
    package static func splitLength(entries: Int, centroids: Int, rules: Rules) -> Int {
        let mean = Double(entries) / Double(max(1, centroids))
        return max(rules.rebalance.mergeLimit * 2, min(rules.assignment.postingLimit, Int((mean * rules.rebalance.splitFactor).rounded(.up))))
    }

    /// Rebalances `partition`, whose members are rows of `vectors` (float32, as the build
    /// assigns: normalised for cosine). Deterministic for the same input and seed.
    package static func rebalance(_ partition: Partition, vectors: VectorMatrix, rules: Rules) -> (Partition, RebalanceStatistics) {
        precondition(vectors.elementType == .float32 && partition.centroids.elementType == .float32, "rebalancing measures float32 rows")
        var work = Work(partition: partition, vectors: vectors, rules: rules)
        var statistics = RebalanceStatistics()
        if vectors.count < Int(Int32.max) {
            for _ in 0..<rules.rebalance.maxRounds {
                guard let done = work.round() else { break }
                statistics = statistics + done
            }
        }
        return (work.finished(), statistics)
    }
}

/// The mutable state of one rebalancing: centroids may only be added (a removed one stays as a
/// dead node without edges until `finished` renumbers the survivors).
private struct Work {
    let vectors: VectorMatrix
    let rules: Rebalancer.Rules
    let dimension: Int
    var centroidRows: [Float]
    var alive: [Bool]
    var origins: [Rebalancer.Origin]
    var graph: CentroidGraph
    var lists: [[PostingAssignment.Member]]
    /// Lists whose 2-means found only one cluster (identical vectors): never split again.
    var unsplittable = Set<Int>()
    var rng: SplitMix64
    /// Headless lists the first round refreshes (then empty: later rounds only balance).
    ///
    /// Why: a fresh build's centroids are balanced k-means heads, each a live row stored once.
    /// Churn deletes heads while their centroids stay, so after 10 rounds of the churn benchmark
    /// (every vector of the first build deleted) none of 7,954 centroids was a live row, the
    /// lists held 8.8 entries per vector against 7.5, and recall@10 at 64 lists was 0.0097
    /// below a fresh build's, the same with the centroid search made exhaustive: the partition,
    /// not the graph. Refreshing every headless list of that index in one checkpoint brought
    /// recall from 0.9516 to 0.9577 (fresh 0.9621) and the entries to 7.1 per vector.
    var refresh: Set<Int>

    init(partition: Rebalancer.Partition, vectors: VectorMatrix, rules: Rebalancer.Rules) {
        self.vectors = vectors
        self.rules = rules
        dimension = vectors.dimension
        centroidRows = Array(
            UnsafeBufferPointer(
                start: partition.centroids.rawBytes.baseAddress!.assumingMemoryBound(to: Float.self),
                count: partition.centroids.count * vectors.dimension
            )
        )
        alive = [Bool](repeating: true, count: partition.centroids.count)
        origins = partition.origins
        graph = partition.graph
        lists = partition.lists
        rng = SplitMix64(seed: rules.rebalance.seed)
        refresh = Set(partition.headless.indices.filter { partition.headless[$0] })
        annotate()
    }

    var count: Int { alive.count }

    func centroidMatrix() -> VectorMatrix {
        let matrix = try! VectorMatrix(elementType: .float32, count: count, dimension: dimension)  // as large as the input's
        centroidRows.withUnsafeBytes { matrix.mutableRawBytes.copyMemory(from: $0) }
        return matrix
    }

    /// Each member's distance to its list's centroid, and which of a vector's lists is its
    /// nearest (its primary, which the posting cap never drops).
    mutating func annotate() {
        let centroids = centroidMatrix()
        let vectors = self.vectors
        let d = dimension
        lists.withUnsafeMutableBufferPointer { all in
            let shared = UncheckedSendable(all)
            Parallel.forEach(items: all.count, threads: rules.threads) { list in
                for i in shared.value[list].indices {
                    let v = Int(shared.value[list][i].vector)
                    shared.value[list][i].distance = L2Float32.distance(vectors.uncheckedRow(v), centroids.uncheckedRow(list), dimension: d)
                }
            }
        }
        var nearest = [(distance: Float, list: Int32)](repeating: (.infinity, -1), count: vectors.count)
        for (list, members) in lists.enumerated() {
            for member in members where member.distance < nearest[Int(member.vector)].distance {
                nearest[Int(member.vector)] = (member.distance, Int32(list))
            }
        }
        for list in lists.indices {
            for i in lists[list].indices { lists[list][i].isPrimary = nearest[Int(lists[list][i].vector)].list == Int32(list) }
        }
    }

    /// Which lists to split and which to merge this round.
    func plan() -> (split: [Int], merge: [Int]) {
        let configuration = rules.rebalance
        let live = alive.indices.filter { alive[$0] }
        let target = max(1, rules.targetCentroids)
        let entries = live.reduce(0) { $0 + lists[$1].count }
        let splitLength = Rebalancer.splitLength(entries: entries, centroids: target, rules: rules)
        // A headless list splits when both halves can stay above the merge limit, else merges.
        let splittable = { (list: Int) in
            !self.unsplittable.contains(list) && self.lists[list].count >= max(2, 2 * configuration.mergeLimit)
        }
        var split = live.filter { lists[$0].count > splitLength && !unsplittable.contains($0) || refresh.contains($0) && splittable($0) }
        var merge = live.filter {
            lists[$0].count < configuration.mergeLimit && lists[$0].count <= splitLength || refresh.contains($0) && !splittable($0)
        }
        if merge.count >= live.count { merge.removeLast(merge.count - live.count + 1) }
        var chosen = Set(split + merge)
        let projected = live.count - merge.count + split.count
        let band = rules.toleratesSurplus ? 1 + configuration.surplusFraction : 1
        // Within the band the count holds where it is (each split of a long list is paid for by
        // a merge of a short one, so lists follow the data as a fresh build's would); outside
        // it, the count moves to the target. A transient swing of the live count (a round of
        // upserts before its deletes) moves nothing.
        let withinBand = Double(live.count) * band >= Double(target) && Double(live.count) <= Double(target) * band
        let goal = withinBand ? live.count : target
        if projected < goal {
            // The longest lists split first, measured in primaries as the build's leaves are
            // measured in rows, as long as both halves stay above the merge limit.
            let primaries = lists.map { $0.count { $0.isPrimary } }
            let candidates = live.filter {
                !chosen.contains($0) && !unsplittable.contains($0) && lists[$0].count >= max(2, 2 * configuration.mergeLimit) && primaries[$0] >= 2
            }
            .sorted { (primaries[$0], $1) > (primaries[$1], $0) }
            split += candidates.prefix(goal - projected)
        } else if projected > goal {
            // The shortest lists merge into their neighbours.
            let candidates = live.filter { !chosen.contains($0) }.sorted { (lists[$0].count, $0) < (lists[$1].count, $1) }
            let extra = Array(candidates.prefix(min(projected - goal, max(0, candidates.count - 1))))
            merge += extra
            chosen.formUnion(extra)
        }
        return (split, merge)
    }

    /// One round of splits, merges and reassignments; nil when nothing needed doing.
    mutating func round() -> RebalanceStatistics? {
        let (splitPlan, merge) = plan()
        refresh = []
        guard !splitPlan.isEmpty || !merge.isEmpty else { return nil }
        var statistics = RebalanceStatistics()
        statistics.rounds = 1
        // 1. Split: two means per list (in parallel), appended as new centroids.
        let halves = twoMeans(of: splitPlan)
        var splits: [(old: Int, new: (Int, Int))] = []
        for (i, list) in splitPlan.enumerated() {
            guard let (a, b) = halves[i] else {
                unsplittable.insert(list)
                continue
            }
            let first = count
            for row in [a, b] {
                centroidRows += UnsafeBufferPointer(start: vectors.uncheckedRow(row).assumingMemoryBound(to: Float.self), count: dimension)
            }
            alive += [true, true]
            origins += [.row(a), .row(b)]
            lists += [[], []]
            alive[list] = false
            splits.append((list, (first, first + 1)))
        }
        for list in merge { alive[list] = false }
        guard !splits.isEmpty || !merge.isEmpty else { return nil }
        statistics.splits = splits.count
        statistics.merges = merge.count
        // 2. The graph loses the old nodes and takes the new ones.
        let centroids = centroidMatrix()
        graph = updatedGraph(centroids: centroids, added: splits.flatMap { [$0.new.0, $0.new.1] })
        // 3. Which vectors move: every member of a split or merged list, and members of nearby
        //    lists now closer to a new centroid than to their own.
        var moving = [Bool](repeating: false, count: vectors.count)
        for list in splits.map(\.old) + merge {
            for member in lists[list] { moving[Int(member.vector)] = true }
        }
        let (nearby, checked) = closerToNewCentroids(splits, centroids: centroids)
        statistics.checkedVectors = checked
        for v in nearby { moving[v] = true }
        let movers = moving.indices.filter { moving[$0] }
        statistics.movedVectors = movers.count
        // 4. Reassign them with the build's rules; all their old copies go.
        let chosen = assign(movers, centroids: centroids)
        for list in lists.indices {
            if !alive[list] {
                lists[list] = []
            } else if lists[list].contains(where: { moving[Int($0.vector)] }) {
                lists[list].removeAll { moving[Int($0.vector)] }
            }
        }
        let slots = rules.assignment.replicaCount
        for (i, v) in movers.enumerated() {
            for r in 0..<slots {
                let c = chosen.centroids[i * slots + r]
                if c == .max { break }
                lists[Int(c)].append(PostingAssignment.Member(vector: UInt32(v), distance: chosen.distances[i * slots + r], isPrimary: r == 0))
            }
        }
        return statistics
    }

    /// Balanced 2-means of each list's members, each half represented by its member nearest
    /// to the half's mean (centroids are data rows, as the build's heads are: a mean sits
    /// closer to its members than any row does, and the RNG rule then blocks nearly every
    /// replica, which cost 7× fewer copies per vector in a first version); nil where the
    /// members do not separate.
    mutating func twoMeans(of splitPlan: [Int]) -> [(Int, Int)?] {
        let seeds = splitPlan.map { _ in rng.next() }
        var results = [(Int, Int)?](repeating: nil, count: splitPlan.count)
        let kMeans = BalancedKMeans(data: vectors, configuration: BalancedKMeans.Configuration(), threads: 1)
        let d = dimension
        let vectors = self.vectors
        let lists = self.lists
        results.withUnsafeMutableBufferPointer { out in
            let shared = UncheckedSendable(out)
            Parallel.forEach(items: splitPlan.count, threads: rules.threads) { i in
                // The primaries: the region the list's centroid stands for. Boundary replicas
                // would pull both halves towards the neighbours' regions.
                var points = lists[splitPlan[i]].filter(\.isPrimary).map { Int32($0.vector) }
                if points.count < 2 { points = lists[splitPlan[i]].map { Int32($0.vector) } }
                var rng = SplitMix64(seed: seeds[i])
                let labels = kMeans.cluster(points, k: 2, rng: &rng)
                var sums = [[Double]](repeating: [Double](repeating: 0, count: d), count: 2)
                var sizes = [0, 0]
                for (point, label) in zip(points, labels) {
                    let row = vectors.uncheckedRow(Int(point)).assumingMemoryBound(to: Float.self)
                    let c = Int(label)
                    sizes[c] += 1
                    for j in 0..<d { sums[c][j] += Double(row[j]) }
                }
                guard sizes[0] > 0, sizes[1] > 0 else { return }
                var heads = [(row: -1, distance: Float.infinity), (row: -1, distance: Float.infinity)]
                for c in 0..<2 {
                    let mean = sums[c].map { Float($0 / Double(sizes[c])) }
                    mean.withUnsafeBytes { mean in
                        for (point, label) in zip(points, labels) where Int(label) == c {
                            let distance = L2Float32.distance(vectors.uncheckedRow(Int(point)), mean.baseAddress!, dimension: d)
                            if (distance, Int(point)) < (heads[c].distance, heads[c].row) { heads[c] = (Int(point), distance) }
                        }
                    }
                }
                guard heads[0].row != heads[1].row,
                    L2Float32.distance(vectors.uncheckedRow(heads[0].row), vectors.uncheckedRow(heads[1].row), dimension: d) > 0
                else { return }
                shared.value[i] = (heads[0].row, heads[1].row)
            }
        }
        return results
    }

    /// The graph without the dead nodes and with `added` inserted.
    func updatedGraph(centroids: VectorMatrix, added: [Int]) -> CentroidGraph {
        let configuration = rules.graph
        let degree = graph.degree
        let builder = GraphBuilder<L2Float32>(centroids: centroids, degree: degree + max(1, degree * 3 / 10), alpha: configuration.alpha)
        defer { builder.deallocate() }
        for node in 0..<graph.count { builder.setNeighbors(of: node, graph.neighbors(of: node)) }
        builder.remove(dead: alive.map { !$0 }, threads: rules.threads)
        let survivors = (0..<graph.count).filter { alive[$0] }
        var order = added
        var entry = graph.entryPoint
        if !alive[entry] {
            // The live node nearest to the old entry point (the graph's centre) takes its place:
            // a survivor if there is one (it has edges), else the first new node inserted.
            let pool = survivors.isEmpty ? added : survivors
            entry = pool.min { (builder.distance(graph.entryPoint, $0), $0) < (builder.distance(graph.entryPoint, $1), $1) }!
            order.removeAll { $0 == entry }
        }
        // Batches that grow with the graph, as the build inserts (prefix doubling): each batch
        // searches the graph as it stood before it, so a batch as large as the graph it joins
        // would link its nodes only to the few already there (a split of every list leaves just
        // the new nodes).
        var present = max(1, survivors.count)
        var start = 0
        while start < order.count {
            let batch = Array(order[start..<min(order.count, start + max(1, min(256, present / 8)))])
            builder.insert(batch, entryPoint: entry, beamWidth: configuration.buildBeamWidth, threads: rules.threads)
            start += batch.count
            present += batch.count
        }
        return builder.finished(degree: degree, entryPoint: entry, threads: rules.threads)
    }

    /// LIRE's second condition: members of the lists nearest to each split that are closer to
    /// one of its two new centroids than to their own list's centroid.
    func closerToNewCentroids(_ splits: [(old: Int, new: (Int, Int))], centroids: VectorMatrix) -> (movers: [Int], checked: Int) {
        let neighborCount = rules.rebalance.reassignNeighbors
        var found = [[Int]](repeating: [], count: splits.count)
        var checked = [Int](repeating: 0, count: splits.count)
        let vectors = self.vectors
        let lists = self.lists
        let alive = self.alive
        let graph = self.graph
        let d = dimension
        let busy = Set(splits.map(\.old))
        found.withUnsafeMutableBufferPointer { foundOut in
            checked.withUnsafeMutableBufferPointer { checkedOut in
                let shared = UncheckedSendable((foundOut, checkedOut))
                Parallel.forEach(items: splits.count, threads: rules.threads) { s in
                    let (old, (a, b)) = splits[s]
                    var scratch = GraphSearchScratch(nodeCount: centroids.count)
                    var distanceCount = 0
                    let near = graph.search(
                        KernelNodeDistance(query: centroids.uncheckedRow(old), rows: centroids, kernel: L2Float32.self),
                        beamWidth: max(neighborCount, 16),
                        scratch: &scratch,
                        distanceCount: &distanceCount
                    )
                    var movers: [Int] = []
                    var looked = 0
                    for (list, _) in near.prefix(neighborCount) where alive[list] && list != a && list != b && !busy.contains(list) {
                        for member in lists[list] {
                            looked += 1
                            let row = vectors.uncheckedRow(Int(member.vector))
                            let toNew = min(
                                L2Float32.distance(row, centroids.uncheckedRow(a), dimension: d),
                                L2Float32.distance(row, centroids.uncheckedRow(b), dimension: d)
                            )
                            if toNew < member.distance { movers.append(Int(member.vector)) }
                        }
                    }
                    shared.value.0[s] = movers
                    shared.value.1[s] = looked
                }
            }
        }
        return (Array(found.joined()), checked.reduce(0, +))
    }

    /// Closure + RNG assignment of `movers` over the live centroids: `replicaCount` slots each.
    func assign(_ movers: [Int], centroids: VectorMatrix) -> (centroids: [UInt32], distances: [Float]) {
        let configuration = rules.assignment
        let slots = configuration.replicaCount
        var choices = [UInt32](repeating: .max, count: movers.count * slots)
        var distances = [Float](repeating: 0, count: movers.count * slots)
        let vectors = self.vectors
        let graph = self.graph
        let alive = self.alive
        let blockSize = 64
        let blocks = (movers.count + blockSize - 1) / blockSize
        choices.withUnsafeMutableBufferPointer { choiceOut in
            distances.withUnsafeMutableBufferPointer { distanceOut in
                let shared = UncheckedSendable((choiceOut, distanceOut))
                Parallel.forEach(items: blocks, threads: rules.threads) { block in
                    var scratch = GraphSearchScratch(nodeCount: centroids.count)
                    var distanceCount = 0
                    var candidates: [(node: Int, distance: Float)] = []
                    for i in block * blockSize..<min(movers.count, (block + 1) * blockSize) {
                        graph.search(
                            KernelNodeDistance(query: vectors.uncheckedRow(movers[i]), rows: centroids, kernel: L2Float32.self),
                            beamWidth: configuration.candidateCount,
                            scratch: &scratch,
                            distanceCount: &distanceCount,
                            into: &candidates
                        )
                        // Dead nodes have no in-edges, so the walk cannot reach them; the filter
                        // keeps that an invariant rather than an assumption.
                        candidates.removeAll { !alive[$0.node] }
                        guard !candidates.isEmpty else { continue }
                        _ = PostingAssignment.choose(
                            from: candidates,
                            centroids: centroids,
                            configuration: configuration,
                            kernel: L2Float32.self,
                            into: (shared.value.0.baseAddress! + i * slots, shared.value.1.baseAddress! + i * slots)
                        )
                    }
                }
            }
        }
        return (choices, distances)
    }

    /// The live centroids renumbered densely, their lists capped and sorted like the build's.
    func finished() -> Rebalancer.Partition {
        var number = [Int](repeating: -1, count: count)
        var kept: [Int] = []
        for node in 0..<count where alive[node] {
            number[node] = kept.count
            kept.append(node)
        }
        let matrix = try! VectorMatrix(elementType: .float32, count: kept.count, dimension: dimension)  // ≤ the input's size
        centroidRows.withUnsafeBytes { rows in
            for (i, node) in kept.enumerated() {
                (matrix.mutableRawBytes.baseAddress! + i * matrix.rowBytes).copyMemory(
                    from: rows.baseAddress! + node * dimension * 4,
                    byteCount: dimension * 4
                )
            }
        }
        var neighbors = [UInt32](repeating: CentroidGraph.emptySlot, count: kept.count * graph.degree)
        for (i, node) in kept.enumerated() {
            // Dead nodes have no in-edges left (`GraphBuilder.remove`).
            for (slot, neighbor) in graph.neighbors(of: node).filter({ alive[$0] }).enumerated() {
                neighbors[i * graph.degree + slot] = UInt32(number[neighbor])
            }
        }
        let newGraph = CentroidGraph(unchecked: graph.degree, count: kept.count, entryPoint: number[graph.entryPoint], neighbors: neighbors)
        var partition = Rebalancer.Partition(
            centroids: matrix,
            graph: newGraph,
            lists: kept.map { node in
                lists[node].sorted { ($0.distance, $0.vector) < ($1.distance, $1.vector) }
            }
        )
        partition.origins = kept.map { origins[$0] }
        for list in partition.lists.indices where partition.lists[list].count > rules.assignment.postingLimit {
            // An unsplittable list (identical vectors) keeps its primaries and its nearest replicas.
            var budget = max(0, rules.assignment.postingLimit - partition.lists[list].filter(\.isPrimary).count)
            partition.lists[list].removeAll { member in
                if member.isPrimary { return false }
                if budget > 0 {
                    budget -= 1
                    return false
                }
                return true
            }
        }
        return partition
    }
}
