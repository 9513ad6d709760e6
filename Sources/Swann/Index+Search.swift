@_spi(Engine) public import SwannCore
import SwannStorage

extension Index: NearestNeighborSearch {
    /// The `k` nearest neighbours of `query`, written into `neighbors` (its contents replaced,
    /// its storage reused), nearest first.
    ///
    /// The form for a service's hot loop: once a thread's first queries have grown the index's
    /// scratch memory and `neighbors` to k, a search allocates nothing (a test counts mallocs).
    /// - Returns: what the query cost.
    /// - Throws: `SearchError` for a bad query, k or parameters, or a corrupt posting list;
    ///   `neighbors` is then empty.
    public func search(
        _ query: UnsafeBufferPointer<Float>,
        k: Int,
        parameters: SearchParameters? = nil,
        into neighbors: inout [Neighbor]
    ) throws(SearchError) -> SearchStatistics {
        neighbors.removeAll(keepingCapacity: true)
        let parameters = parameters ?? defaultParameters
        try validate(k: k, parameters: parameters)
        let scratch = takeScratch()
        defer { returnScratch(scratch) }
        let statistics = try search(query, k: k, parameters: parameters, scratch: scratch)
        neighbors.append(contentsOf: scratch.neighbors)
        return statistics
    }

    /// Searches every row of `queries` on up to `threads` threads.
    /// - Returns: a `queries.count × k` table (ids −1 where fewer than k were found) and
    ///   per-query statistics.
    /// - Throws: the first query's `SearchError` if any query fails (a corrupt posting list;
    ///   the queries themselves are checked before any is searched where possible).
    public func search(
        _ queries: VectorMatrix,
        k: Int,
        parameters: SearchParameters? = nil,
        threads: Int = Parallel.coreCount
    ) throws(SearchError) -> (table: NeighborTable, statistics: [SearchStatistics]) {
        let parameters = parameters ?? defaultParameters
        try validate(k: k, parameters: parameters)
        guard queries.dimension == dimension else {
            throw SearchError(.wrongDimension, "queries have dimension \(queries.dimension), the index has \(dimension)")
        }
        var ids = [Int64](repeating: -1, count: queries.count * k)
        var distances = [Float](repeating: .infinity, count: queries.count * k)
        var statistics = [SearchStatistics](repeating: SearchStatistics(), count: queries.count)
        var errors = [SearchError?](repeating: nil, count: queries.count)
        ids.withUnsafeMutableBufferPointer { idOut in
            distances.withUnsafeMutableBufferPointer { distanceOut in
                statistics.withUnsafeMutableBufferPointer { statisticsOut in
                    errors.withUnsafeMutableBufferPointer { errorOut in
                        let shared = UncheckedSendable((idOut, distanceOut, statisticsOut, errorOut))
                        Parallel.forEach(items: queries.count, threads: threads) { q in
                            let (idOut, distanceOut, statisticsOut, errorOut) = shared.value
                            let scratch = self.takeScratch()
                            defer { self.returnScratch(scratch) }
                            ElementConversion.widen(queries.row(q), elementType: queries.elementType, count: queries.dimension, into: &scratch.input)
                            do throws(SearchError) {
                                statisticsOut[q] = try scratch.input.withUnsafeBufferPointer { buffer throws(SearchError) in
                                    try self.search(buffer, k: k, parameters: parameters, scratch: scratch)
                                }
                                for (j, neighbor) in scratch.neighbors.enumerated() {
                                    idOut[q * k + j] = neighbor.id
                                    distanceOut[q * k + j] = neighbor.distance
                                }
                            } catch {
                                errorOut[q] = error
                            }
                        }
                    }
                }
            }
        }
        if let first = errors.compactMap({ $0 }).first { throw first }
        return (NeighborTable(queryCount: queries.count, k: k, ids: ids, distances: distances), statistics)
    }

    func validate(k: Int, parameters: SearchParameters) throws(SearchError) {
        guard k >= 1, k <= count else { throw SearchError(.invalidK, "k must be in 1...\(count), got \(k)") }
        do { try parameters.validate() } catch { throw SearchError(.invalidParameters, error.message) }
    }

    /// A quarter of float32's range: ‖q − x‖² ≤ 2‖q‖² + 2‖x‖² stays finite for any stored x of
    /// moderate norm, and |q·x| ≤ ‖q‖‖x‖ does too.
    static let maxQuerySquaredNorm = Double(Float.greatestFiniteMagnitude) / 4

    /// Converts the query into the scratch row (normalising for cosine) after checking it.
    func prepare(_ query: UnsafeBufferPointer<Float>, into scratch: SearchScratch) throws(SearchError) {
        guard query.count == dimension else {
            throw SearchError(.wrongDimension, "query has dimension \(query.count), the index has \(dimension)")
        }
        // Squares in Double: a float sum overflows for |x| ≳ 1e19 and underflows for tiny
        // vectors, and cosine divides by it.
        var squares: Double = 0
        // int8 codes of float data (`--store int8`) scale the query, so only stored element
        // types bound a component; normalised queries fall in [-1, 1] anyway.
        let range = manifest.normalized || manifest.quantization != nil ? nil : manifest.elementType.representableRange
        for (i, v) in query.enumerated() {
            guard v.isFinite else { throw SearchError(.nonFinite, "query component \(i) is \(v)") }
            if let range, !range.contains(v) {
                throw SearchError(
                    .outOfRange,
                    "query component \(i) is \(v), outside the range of this \(manifest.elementType) index (\(range.lowerBound)...\(range.upperBound))"
                )
            }
            squares += Double(v) * Double(v)
        }
        if manifest.normalized {
            guard squares > 0 else { throw SearchError(.zeroVector, "a zero vector has no cosine distance") }
            let scale = 1 / squares.squareRoot()
            for i in 0..<query.count { scratch.floats[i] = Float(Double(query[i]) * scale) }
        } else {
            guard squares <= Self.maxQuerySquaredNorm else {
                throw SearchError(
                    .outOfRange,
                    "the query's norm \(squares.squareRoot()) is too large: distances would overflow float32 (at most \(Self.maxQuerySquaredNorm.squareRoot()))"
                )
            }
            for i in 0..<query.count { scratch.floats[i] = query[i] }
        }
        scratch.floats.withUnsafeBufferPointer { source in
            if let quantizer = manifest.quantization {
                quantizer.encode(source.baseAddress!, count: dimension, into: scratch.query.mutableRawBytes.baseAddress!)
            } else {
                ElementConversion.narrow(
                    source.baseAddress!,
                    count: dimension,
                    to: manifest.elementType,
                    into: scratch.query.mutableRawBytes.baseAddress!
                )
            }
        }
    }

    /// Searches with `scratch`, leaving the answer in `scratch.neighbors` (user ids, the user's
    /// metric).
    func search(
        _ query: UnsafeBufferPointer<Float>,
        k: Int,
        parameters: SearchParameters,
        scratch: SearchScratch,
        overlay: Overlay? = nil
    ) throws(SearchError) -> SearchStatistics {
        scratch.neighbors.removeAll(keepingCapacity: true)
        try prepare(query, into: scratch)
        if let overlay { scratch.seen.reserve(capacity: overlay.idCount) }
        let statistics = try Distance.dispatch(
            metric: kernelMetric,
            elementType: manifest.elementType,
            to: QueryRun(index: self, k: k, parameters: parameters, scratch: scratch, overlay: overlay)
        ).get()
        let offset = reportedOffset
        for i in scratch.neighbors.indices {
            let row = Int(scratch.neighbors[i].id)
            scratch.neighbors[i].id = userID(ofRow: row, overlay: overlay)
            scratch.neighbors[i].distance += offset
            // The last line of defence for the range checks above: an ∞ would rank wrongly and
            // cannot be written as JSON.
            guard scratch.neighbors[i].distance.isFinite else {
                scratch.neighbors.removeAll(keepingCapacity: true)
                throw SearchError(.outOfRange, "this query's distances overflow float32; scale the query down")
            }
        }
        return statistics
    }
}

extension Index {
    /// The id a result reports for internal id `row`: the user's id where the index has an id map
    /// or the row is an overlay row, else the row number.
    @inline(__always)
    func userID(ofRow row: Int, overlay: Overlay?) -> Int64 {
        if let overlay, row >= overlay.baseCount { return Int64(bitPattern: overlay.userID(ofOverlayID: row)) }
        return header.idMap.map { Int64(bitPattern: $0[row]) } ?? Int64(row)
    }
}

/// One query, specialised for its posting kernel: choose the lists (centroid search and
/// pruning), scan them, and re-rank with exact rows where the postings hold codes. Leaves the
/// nearest first in `scratch.neighbors` (row numbers, kernel distances).
struct QueryRun: KernelConsumer {
    let index: Index
    let k: Int
    let parameters: SearchParameters
    let scratch: SearchScratch
    /// The writes since the base index, when the index is writable.
    let overlay: Overlay?

    func run<Kernel: DistanceKernel>(_ kernel: Kernel.Type) -> Result<SearchStatistics, SearchError> {
        let clock = ContinuousClock()
        var statistics = SearchStatistics()
        let started = clock.now
        statistics.centroidDistances = chooseLists()
        statistics.distancesComputed += statistics.centroidDistances
        statistics.centroidSeconds = (clock.now - started).seconds
        do throws(SearchError) {
            if let codec = index.manifest.rabitq {
                try scanCodes(codec, Kernel.self, statistics: &statistics)
            } else {
                scratch.nearest.reset(k: index.exactRows == nil ? k : Index.rerankDepth(k: k))
                try scanLists(Kernel.self, statistics: &statistics)
            }
            guard let rows = index.exactRows else {
                scratch.nearest.drainSorted(into: &scratch.neighbors)
                return .success(statistics)
            }
            scratch.nearest.drainSorted(into: &scratch.rerankCandidates)
            if index.manifest.rabitq != nil {
                // Candidates are keyed by lower bound: drop those that cannot beat the k-th
                // smallest upper bound of the whole scan (the bound tightened as it went).
                let bound = scratch.upper.threshold
                scratch.rerankCandidates.removeAll { $0.distance > bound }
            }
            let rerank = Rerank<Kernel>(index: index, rows: rows, overlay: overlay, k: k, scratch: scratch)
            statistics.add(try Distance.dispatch(metric: index.kernelMetric, elementType: .float32, to: rerank).get())
        } catch {
            return .failure(error)
        }
        return .success(statistics)
    }

    /// Fills `scratch.lists` with the lists to read; returns the centroid distances computed.
    func chooseLists() -> Int {
        let computed = scratch.floats.withUnsafeBufferPointer { floatQuery in
            Distance.dispatch(
                metric: index.kernelMetric,
                elementType: .float32,
                to: CentroidSearch(
                    query: floatQuery.baseAddress!,
                    index: index,
                    beamWidth: parameters.effectiveSearchCandidates,
                    exactCount: index.manifest.rabitq == nil ? nil : Index.exactCentroidCount(maxPostings: parameters.maxPostings),
                    scratch: scratch
                )
            )
        }
        // Ratio pruning needs non-negative distances: raw inner product has none, so it is skipped.
        let ratio = index.kernelMetric == .innerProduct && !index.manifest.normalized ? nil : parameters.maxDistanceRatio
        ListSelection.select(
            scratch.candidates,
            maxPostings: parameters.maxPostings,
            maxDistanceRatio: ratio,
            distanceOffset: index.reportedOffset,
            into: &scratch.lists
        )
        return computed
    }

    /// Reads `scratch.lists` and scans them into `scratch.nearest`.
    func scanLists<Kernel: DistanceKernel>(_ kernel: Kernel.Type, statistics: inout SearchStatistics) throws(SearchError) {
        // Posting rows are in the stored type, which differs from the centroids' (float32) when
        // the postings hold int8 codes.
        let scanner = PostingScanner<Kernel>(
            query: scratch.query.row(0),
            dimension: index.dimension,
            rowBytes: index.dimension * index.manifest.elementType.byteWidth,
            vectorCount: index.count
        )
        try readLists(statistics: &statistics) { _, view, excluded in
            // The set and the heap are moved into locals for the scan and back (pointer swaps,
            // no copy): reached through the scratch object, every kernel call (opaque C) would
            // force the heap's threshold to be reloaded from memory.
            var seen = SeenSet.empty
            var nearest = TopK.empty
            swap(&seen, &scratch.seen)
            swap(&nearest, &scratch.nearest)
            defer {
                swap(&seen, &scratch.seen)
                swap(&nearest, &scratch.nearest)
            }
            return scanner.scan(ids: view.ids, vectors: view.vectors, count: view.count, excluded: excluded, seen: &seen, results: &nearest)
        }
        if let overlay { statistics.distancesComputed += scanOverlay(overlay, scanner: scanner) }
    }

    /// Scans RaBitQ postings: every entry's distance bounds from its code, keeping in
    /// `scratch.nearest` the entries (by lower bound) that may enter the top k, and in
    /// `scratch.upper` the k smallest upper bounds.
    func scanCodes<Kernel: DistanceKernel>(_ codec: RaBitQCodec, _ kernel: Kernel.Type, statistics: inout SearchStatistics) throws(SearchError) {
        scratch.nearest.reset(k: Index.rabitqRerankDepth(k: k, maxPostings: parameters.maxPostings))
        scratch.upper.reset(k: k)
        let isL2 = index.kernelMetric == .l2
        var querySquaredNorm: Float = 0
        scratch.floats.withUnsafeBufferPointer { query in
            codec.prepare(query.baseAddress!, into: &scratch.rabitq)
            if !isL2 { querySquaredNorm = DotFloat32.dot(query.baseAddress!, query.baseAddress!, dimension: query.count) }
        }
        let vectorCount = index.count
        let entryBytes = codec.entryBytes
        let norms = index.centroidSquaredNorms
        let prepared = scratch.rabitq
        let lists = scratch.lists
        let candidates = scratch.candidates
        var longest = 0
        for list in lists { longest = max(longest, index.header.directory[list].entryCount) }
        if scratch.lowerBounds.count < longest {
            scratch.lowerBounds = [Float](repeating: 0, count: longest)
            scratch.upperBounds = scratch.lowerBounds
        }
        // The set, the heaps and the bound buffers are moved out of the scratch object for the
        // whole scan and back (pointer swaps, no copy): reached through it, every list would
        // retain and release them, and every opaque kernel call would force the heaps'
        // thresholds to be reloaded from memory.
        do {
            var seen = SeenSet.empty
            var nearest = TopK.empty
            var upper = TopK.empty
            var lowerBounds: [Float] = []
            var upperBounds: [Float] = []
            swap(&seen, &scratch.seen)
            swap(&nearest, &scratch.nearest)
            swap(&upper, &scratch.upper)
            swap(&lowerBounds, &scratch.lowerBounds)
            swap(&upperBounds, &scratch.upperBounds)
            defer {
                swap(&seen, &scratch.seen)
                swap(&nearest, &scratch.nearest)
                swap(&upper, &scratch.upper)
                swap(&lowerBounds, &scratch.lowerBounds)
                swap(&upperBounds, &scratch.upperBounds)
            }
            seen.removeAll()
            try lowerBounds.withUnsafeMutableBufferPointer { (lower) throws(SearchError) in
                try upperBounds.withUnsafeMutableBufferPointer { (upperBound) throws(SearchError) in
                    // Lists arrive in order (`inOrder`), so the i-th is `lists[i]`, whose centroid
                    // distance is `candidates[i]`'s (the selection takes the candidates in order).
                    var position = 0
                    try readLists(statistics: &statistics) { list, view, excluded in
                        guard position < lists.count, lists[position] == list else { return nil }
                        // The list's term: the query's kernel distance to its centroid, from the centroid search.
                        let base = candidates[position].distance
                        position += 1
                        let residual = isL2 ? max(0, base) : max(0, querySquaredNorm + norms[list] + 2 * base)
                        let count = view.count
                        prepared.bounds(
                            rows: view.vectors,
                            entryBytes: entryBytes,
                            count: count,
                            base: base,
                            margin: RaBitQCodec.confidence * residual.squareRoot(),
                            lower: lower.baseAddress!,
                            upper: upperBound.baseAddress!
                        )
                        for i in 0..<count {
                            let id = Int(view.ids[i])
                            guard id < vectorCount else { return nil }
                            if let excluded, excluded[id &>> 6] & (1 &<< UInt64(id & 63)) != 0 { continue }
                            // Not marked seen when pruned: its copy in another list has other bounds.
                            guard lower[i] <= upper.threshold, seen.insert(id) else { continue }
                            upper.insert(upperBound[i], id: Int64(id))
                            nearest.insert(lower[i], id: Int64(id))
                        }
                        return count
                    }
                }
            }
        }
        if let overlay {
            // Rows written since the base are in memory as exact rows: their distance is both bounds.
            let scanner = PostingScanner<Kernel>(query: scratch.query.row(0), dimension: index.dimension, rowBytes: 0, vectorCount: index.count)
            statistics.distancesComputed += scanOverlay(overlay, scanner: scanner, boundingUpper: true)
        }
    }

    /// Reads `scratch.lists` (verifying checksums as the parameters ask) and calls `scan` with
    /// each list, its entries and the excluded-ids bitset; `scan` returns the distances it
    /// computed, or nil for an id out of range (a corrupt list).
    func readLists(
        statistics: inout SearchStatistics,
        scan: (_ list: Int, _ view: PostingView, _ excluded: UnsafePointer<UInt64>?) -> Int?
    ) throws(SearchError) {
        let clock = ContinuousClock()
        let checksums = parameters.checksums
        let verified = index.verified
        // A local function, not a closure in a `let`: a stored closure escapes, and its context
        // was the one malloc left per query.
        func verify(_ list: Int) -> Bool {
            switch checksums {
            case .everyRead: true
            case .firstRead: !verified.contains(list)
            case .never: false
            }
        }
        scratch.seen.removeAll()
        var corruptList: Int?
        var now = clock.now
        let excludedWords = overlay?.excluded ?? []
        do {
            try excludedWords.withUnsafeBufferPointer { excludedBuffer throws(IndexError) in
                let excluded = overlay == nil ? nil : excludedBuffer.baseAddress
                try index.store.read(scratch.lists, into: scratch.buffer, verify: verify, inOrder: index.manifest.rabitq != nil) { list, view in
                    let read = clock.now
                    statistics.ioSeconds += (read - now).seconds
                    if verify(list) { verified.insert(list) }
                    statistics.postingsRead += 1
                    statistics.bytesRead += index.store.bytesRead(for: list)
                    guard let computed = scan(list, view, excluded) else {
                        corruptList = list
                        return false
                    }
                    statistics.distancesComputed += computed
                    now = clock.now
                    statistics.scanSeconds += (now - read).seconds
                    return true
                }
            }
        } catch {
            throw SearchError(error.code == .checksumMismatch ? .indexCorrupt : .ioFailure, error.description)
        }
        if let corruptList {
            throw SearchError(.indexCorrupt, "\(index.path)/\(IndexLayout.postings): list \(corruptList) holds a vector id ≥ \(index.count)")
        }
    }

    /// Scans the entries writes appended to `scratch.lists` (in memory, after the lists read from
    /// disk); returns the distances computed.
    func scanOverlay<Kernel: DistanceKernel>(
        _ overlay: Overlay,
        scanner: PostingScanner<Kernel>,
        boundingUpper: Bool = false
    ) -> Int {
        var computed = 0
        let rows = overlay.rows
        let baseCount = overlay.baseCount
        for list in scratch.lists {
            for id32 in overlay.lists[list] {
                let id = Int(id32)
                guard !overlay.isExcluded(id), scratch.seen.insert(id) else { continue }
                let d = Kernel.distance(scanner.query, rows.row(id - baseCount), dimension: scanner.dimension)
                computed += 1
                if d <= scratch.nearest.threshold { scratch.nearest.insert(d, id: Int64(id)) }
                if boundingUpper { scratch.upper.insert(d, id: Int64(id)) }
            }
        }
        return computed
    }
}

/// The centroid candidates for one query, into `scratch.candidates`: a graph walk over the
/// int8 navigation codes, then the candidates re-ranked by exact float32 distance (specialised
/// for one float32 kernel). Returns the number of distances computed.
struct CentroidSearch: KernelConsumer {
    let query: UnsafePointer<Float>
    let index: Index
    let beamWidth: Int
    /// Re-rank only this many of the beam's nearest by exact distance and drop the rest (nil:
    /// the whole beam, as indexes before RaBitQ do, so their answers stay as they were).
    let exactCount: Int?
    let scratch: SearchScratch

    func run<Kernel: DistanceKernel>(_ kernel: Kernel.Type) -> Int {
        let navigation = index.navigation
        let codes = scratch.navigationQuery.mutableRawBytes.baseAddress!
        navigation.encode(query, into: codes)
        let walk = NavigationWalk(
            query: UnsafeRawPointer(codes),
            codes: navigation.codes,
            graph: index.header.graph,
            beamWidth: beamWidth,
            scratch: scratch
        )
        var count = Distance.dispatch(metric: Kernel.metric, elementType: .int8, to: walk)
        let exact = KernelNodeDistance(query: UnsafeRawPointer(query), rows: index.centroids, kernel: Kernel.self)
        if let exactCount, scratch.candidates.count > exactCount { scratch.candidates.removeLast(scratch.candidates.count - exactCount) }
        let candidateCount = scratch.candidates.count
        scratch.candidates.withUnsafeMutableBufferPointer { candidates in
            for candidate in candidates { exact.prefetchHead(of: candidate.node) }
            for i in 0..<candidateCount {
                if i + 1 < candidateCount { exact.prefetchRest(of: candidates[i + 1].node) }
                candidates[i].distance = exact.distance(to: candidates[i].node)
            }
            Self.sortByDistance(candidates)
        }
        count += candidateCount
        return count
    }

    /// Insertion sort by (distance, node): the beam arrives sorted by code distance, so the exact
    /// distances are nearly in order and this is close to one pass; `Array.sort` (a merge sort)
    /// would allocate its buffer on every query.
    static func sortByDistance(_ candidates: UnsafeMutableBufferPointer<(node: Int, distance: Float)>) {
        guard candidates.count > 1 else { return }
        for i in 1..<candidates.count {
            let moving = candidates[i]
            var j = i
            while j > 0,
                moving.distance < candidates[j - 1].distance
                    || (moving.distance == candidates[j - 1].distance && moving.node < candidates[j - 1].node)
            {
                candidates[j] = candidates[j - 1]
                j -= 1
            }
            candidates[j] = moving
        }
    }
}

/// The graph walk over the navigation codes into `scratch.candidates`, specialised for one int8
/// kernel; returns the number of distances computed.
struct NavigationWalk: KernelConsumer {
    let query: UnsafeRawPointer
    let codes: VectorMatrix
    let graph: CentroidGraph
    let beamWidth: Int
    let scratch: SearchScratch

    func run<Kernel: DistanceKernel>(_ kernel: Kernel.Type) -> Int {
        var count = 0
        graph.search(
            KernelNodeDistance(query: query, rows: codes, kernel: Kernel.self),
            beamWidth: beamWidth,
            scratch: &scratch.graph,
            distanceCount: &count,
            into: &scratch.candidates
        )
        return count
    }
}

/// Re-ranks the best candidates found on int8 codes (`scratch.rerankCandidates`, `Index.rerankDepth`)
/// with their exact float32 rows into `scratch.neighbors`, specialised for the code kernel and one
/// float32 kernel.
///
/// Each row read back is encoded again and its code distance must equal the one the scan
/// computed from `postings.bin` (checksummed): a `vectors.bin` row that was corrupted beyond
/// half a quantisation step is reported instead of ranked.
///
/// RaBitQ candidates (`Index.rabitqRerankDepth`) arrive keyed by their lower bound and are not
/// re-encoded (that needs the list each came from); `vectors.bin`'s checksum is verified at
/// open instead, and a candidate whose lower bound is past the k-th exact distance is skipped.
struct Rerank<CodeKernel: DistanceKernel>: KernelConsumer {
    let index: Index
    let rows: ExactRowStore
    /// Writes since the base: candidates past its rows take their exact rows from here.
    let overlay: Overlay?
    let k: Int
    let scratch: SearchScratch

    /// Returns what re-ranking cost.
    func run<Kernel: DistanceKernel>(_ kernel: Kernel.Type) -> Result<SearchStatistics, SearchError> {
        var statistics = SearchStatistics()
        let clock = ContinuousClock()
        var mark = clock.now
        let quantizer = index.manifest.quantization
        let rowCodes = scratch.rowCodes.mutableRawBytes.baseAddress!
        // Base rows first (read from vectors.bin), overlay rows after (in memory).
        let baseCount = overlay?.baseCount ?? Int.max
        let onDisk = overlay == nil ? scratch.rerankCandidates.count : Self.partition(&scratch.rerankCandidates, below: baseCount)
        let candidates = scratch.rerankCandidates
        scratch.nearest.reset(k: k)
        var corruptRow: Int64?
        let ordered = quantizer == nil && overlay == nil
        do {
            // RaBitQ candidates come sorted by lower bound (without an overlay, which reorders
            // them) and are ranked in that order until one's lower bound is past the k-th exact
            // distance: every later one is too (the RaBitQ paper's re-ranking). Read one by one,
            // the reads stop there. O_DIRECT reads a chunk at a time, all in flight together and
            // completing in any order: their distances are kept and ranked in order after each
            // chunk, which gives the same answer and reads at most a chunk past the stop.
            let deferred = ordered && rows.directIO
            let chunk = deferred ? Index.directRerankChunk : max(onDisk, 1)
            if deferred, scratch.rerankDistances.count < chunk { scratch.rerankDistances = [Float](repeating: 0, count: chunk) }
            var first = 0
            var stopped = false
            while first < onDisk, !stopped, corruptRow == nil {
                let end = min(onDisk, first + chunk)
                try rows.read(count: end - first, row: { Int(candidates[first + $0].id) }, into: scratch.rowBuffer) { j, row in
                    let i = first + j
                    let read = clock.now
                    statistics.ioSeconds += (read - mark).seconds
                    statistics.bytesRead += rows.bytesRead(for: Int(candidates[i].id))
                    if deferred {
                        scratch.rerankDistances[j] = scratch.floats.withUnsafeBytes {
                            Kernel.distance($0.baseAddress!, row, dimension: index.dimension)
                        }
                        statistics.distancesComputed += 1
                        mark = clock.now
                        statistics.scanSeconds += (mark - read).seconds
                        return true
                    }
                    if ordered, candidates[i].distance > scratch.nearest.threshold {
                        stopped = true
                        return false
                    }
                    guard rank(candidates[i], row: row, quantizer: quantizer, rowCodes: rowCodes, kernel: Kernel.self) else {
                        corruptRow = candidates[i].id
                        return false
                    }
                    statistics.distancesComputed += 1
                    mark = clock.now
                    statistics.scanSeconds += (mark - read).seconds
                    return true
                }
                if deferred {
                    for i in first..<end {
                        guard candidates[i].distance <= scratch.nearest.threshold else {
                            stopped = true
                            break
                        }
                        scratch.nearest.insert(scratch.rerankDistances[i - first], id: candidates[i].id)
                    }
                }
                first = end
            }
        } catch {
            return .failure(SearchError(.ioFailure, error.description))
        }
        // A RaBitQ index's overlay keeps float32 rows only: they are its exact rows.
        if corruptRow == nil, let exactRows = overlay?.exactRows ?? (index.manifest.rabitq != nil ? overlay?.rows : nil) {
            for candidate in candidates[onDisk...] {
                guard
                    rank(candidate, row: exactRows.row(Int(candidate.id) - baseCount), quantizer: quantizer, rowCodes: rowCodes, kernel: Kernel.self)
                else {
                    corruptRow = candidate.id
                    break
                }
                statistics.distancesComputed += 1
            }
        }
        if let corruptRow {
            return .failure(
                SearchError(
                    .indexCorrupt,
                    "\(rows.path): row \(corruptRow) does not match its codes in \(IndexLayout.postings): the file is corrupt"
                )
            )
        }
        scratch.nearest.drainSorted(into: &scratch.neighbors)
        return .success(statistics)
    }

    /// Ranks one candidate by its exact row after checking the row against its codes; false
    /// when they disagree (a corrupt row). A method, not a local function: one captured by the
    /// read's closure boxed its variables on every query.
    @inline(__always)
    private func rank<Kernel: DistanceKernel>(
        _ candidate: Neighbor,
        row: UnsafeRawPointer,
        quantizer: SymmetricQuantizer?,
        rowCodes: UnsafeMutableRawPointer,
        kernel: Kernel.Type
    ) -> Bool {
        let dimension = index.dimension
        if let quantizer {
            quantizer.encode(row.assumingMemoryBound(to: Float.self), count: dimension, into: rowCodes)
            guard CodeKernel.distance(scratch.query.row(0), UnsafeRawPointer(rowCodes), dimension: dimension) == candidate.distance else {
                return false
            }
        }
        let distance = scratch.floats.withUnsafeBytes { Kernel.distance($0.baseAddress!, row, dimension: dimension) }
        if distance <= scratch.nearest.threshold { scratch.nearest.insert(distance, id: candidate.id) }
        return true
    }

    /// Moves the candidates with ids below `bound` to the front (order within each part does
    /// not matter: ranking goes through a heap); returns how many there are.
    static func partition(_ candidates: inout [Neighbor], below bound: Int) -> Int {
        var front = 0
        for i in candidates.indices where candidates[i].id < Int64(bound) {
            candidates.swapAt(front, i)
            front += 1
        }
        return front
    }
}
