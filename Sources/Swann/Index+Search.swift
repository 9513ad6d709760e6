public import SwannCore
import SwannStorage

extension Index {
    /// The `k` nearest neighbours of `query`.
    /// - Parameters:
    ///   - query: `dimension` finite components (converted to the index's element type).
    ///   - parameters: overrides of `defaultParameters` for this call only.
    /// - Throws: `SearchError` for a bad query, k or parameters, or a corrupt posting list.
    public func search(_ query: [Float], k: Int, parameters: SearchParameters? = nil) throws(SearchError) -> [Neighbor] {
        try searchWithStatistics(query, k: k, parameters: parameters).neighbors
    }

    /// Like `search(_:k:parameters:)`, with what the query cost.
    public func searchWithStatistics(_ query: [Float], k: Int, parameters: SearchParameters? = nil) throws(SearchError) -> SearchResult {
        let parameters = parameters ?? defaultParameters
        try validate(k: k, parameters: parameters)
        let scratch = takeScratch()
        defer { returnScratch(scratch) }
        return try query.withUnsafeBufferPointer { buffer throws(SearchError) in
            try search(buffer, k: k, parameters: parameters, scratch: scratch)
        }
    }

    /// Searches every row of `queries` on up to `threads` threads.
    /// - Returns: a `queries.count × k` table (ids −1 where fewer than k were found), per-query
    ///   statistics, and per-query errors (nil where the query succeeded).
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
                                let result = try scratch.input.withUnsafeBufferPointer { buffer throws(SearchError) in
                                    try self.search(buffer, k: k, parameters: parameters, scratch: scratch)
                                }
                                for (j, neighbor) in result.neighbors.enumerated() {
                                    idOut[q * k + j] = neighbor.id
                                    distanceOut[q * k + j] = neighbor.distance
                                }
                                statisticsOut[q] = result.statistics
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

    func search(
        _ query: UnsafeBufferPointer<Float>,
        k: Int,
        parameters: SearchParameters,
        scratch: SearchScratch
    ) throws(SearchError) -> SearchResult {
        try prepare(query, into: scratch)
        let outcome = Distance.dispatch(
            metric: kernelMetric,
            elementType: manifest.elementType,
            to: QueryRun(index: self, k: k, parameters: parameters, scratch: scratch)
        )
        var result = try outcome.get()
        for i in result.neighbors.indices {
            let row = Int(result.neighbors[i].id)
            result.neighbors[i].id = header.idMap.map { Int64(bitPattern: $0[row]) } ?? Int64(row)
            result.neighbors[i].distance += reportedOffset
            // The last line of defence for the range checks above: an ∞ would rank wrongly and
            // cannot be written as JSON.
            guard result.neighbors[i].distance.isFinite else {
                throw SearchError(.outOfRange, "this query's distances overflow float32; scale the query down")
            }
        }
        return result
    }
}

/// The centroid candidates for one query: a graph walk over the int8 navigation codes, then
/// the candidates re-ranked by exact float32 distance (specialised for one float32 kernel).
struct CentroidSearch: KernelConsumer {
    let query: UnsafePointer<Float>
    let index: Index
    let beamWidth: Int
    let scratch: SearchScratch

    /// The candidates, nearest first by exact distance, and the number of distances computed.
    func run<Kernel: DistanceKernel>(_ kernel: Kernel.Type) -> ([(node: Int, distance: Float)], Int) {
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
        var (candidates, count) = Distance.dispatch(metric: Kernel.metric, elementType: .int8, to: walk)
        let exact = KernelNodeDistance(query: UnsafeRawPointer(query), rows: index.centroids, kernel: Kernel.self)
        for candidate in candidates { exact.prefetchHead(of: candidate.node) }
        for i in candidates.indices {
            if i + 1 < candidates.count { exact.prefetchRest(of: candidates[i + 1].node) }
            candidates[i].distance = exact.distance(to: candidates[i].node)
        }
        count += candidates.count
        candidates.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.node < $1.node) }
        return (candidates, count)
    }
}

/// Re-ranks the best candidates found on int8 codes with their exact float32 rows
/// (`Index.rerankDepth`), specialised for the code kernel and one float32 kernel.
///
/// Each row read back is encoded again and its code distance must equal the one the scan
/// computed from `postings.bin` (checksummed): a `vectors.bin` row that was corrupted beyond
/// half a quantisation step is reported instead of ranked.
struct Rerank<CodeKernel: DistanceKernel>: KernelConsumer {
    let index: Index
    let rows: ExactRowStore
    let candidates: [Neighbor]
    let k: Int
    let scratch: SearchScratch
    var statistics: SearchStatistics

    func run<Kernel: DistanceKernel>(_ kernel: Kernel.Type) -> Result<SearchResult, SearchError> {
        var statistics = statistics
        var results = TopK(k: k)
        let clock = ContinuousClock()
        let dimension = index.dimension
        let quantizer = index.manifest.quantization!
        let query = scratch.query.row(0)
        let rowCodes = scratch.rowCodes.mutableRawBytes.baseAddress!
        var mark = clock.now
        var corruptRow: Int64?
        do {
            try rows.read(count: candidates.count, row: { Int(candidates[$0].id) }, into: scratch.rowBuffer, batch: scratch.batch) { i, row in
                let read = clock.now
                statistics.ioSeconds += (read - mark).seconds
                statistics.bytesRead += rows.rowBytes
                let candidate = candidates[i]
                quantizer.encode(row.assumingMemoryBound(to: Float.self), count: dimension, into: rowCodes)
                guard CodeKernel.distance(query, UnsafeRawPointer(rowCodes), dimension: dimension) == candidate.distance else {
                    corruptRow = candidate.id
                    return false
                }
                let distance = scratch.floats.withUnsafeBytes { Kernel.distance($0.baseAddress!, row, dimension: dimension) }
                statistics.distancesComputed += 1
                if distance <= results.threshold { results.insert(distance, id: candidate.id) }
                mark = clock.now
                statistics.scanSeconds += (mark - read).seconds
                return true
            }
        } catch {
            return .failure(SearchError(.ioFailure, error.description))
        }
        if let corruptRow {
            return .failure(
                SearchError(
                    .indexCorrupt,
                    "\(rows.path): row \(corruptRow) does not match its codes in \(IndexLayout.postings): the file is corrupt"
                )
            )
        }
        return .success(SearchResult(neighbors: results.sorted(), statistics: statistics))
    }
}

/// The graph walk over the navigation codes, specialised for one int8 kernel.
struct NavigationWalk: KernelConsumer {
    let query: UnsafeRawPointer
    let codes: VectorMatrix
    let graph: CentroidGraph
    let beamWidth: Int
    let scratch: SearchScratch

    func run<Kernel: DistanceKernel>(_ kernel: Kernel.Type) -> ([(node: Int, distance: Float)], Int) {
        var count = 0
        let candidates = graph.search(
            KernelNodeDistance(query: query, rows: codes, kernel: Kernel.self),
            beamWidth: beamWidth,
            scratch: &scratch.graph,
            distanceCount: &count
        )
        return (candidates, count)
    }
}

/// One query, specialised for one kernel.
struct QueryRun: KernelConsumer {
    let index: Index
    let k: Int
    let parameters: SearchParameters
    let scratch: SearchScratch

    func run<Kernel: DistanceKernel>(_ kernel: Kernel.Type) -> Result<SearchResult, SearchError> {
        let header = index.header
        let clock = ContinuousClock()
        var statistics = SearchStatistics()
        let query = scratch.query.row(0)
        let started = clock.now
        let beamWidth = parameters.effectiveSearchCandidates
        let (candidates, centroidDistances) = scratch.floats.withUnsafeBufferPointer { floatQuery in
            Distance.dispatch(
                metric: index.kernelMetric,
                elementType: .float32,
                to: CentroidSearch(query: floatQuery.baseAddress!, index: index, beamWidth: beamWidth, scratch: scratch)
            )
        }
        statistics.distancesComputed += centroidDistances
        // Ratio pruning needs non-negative distances: raw inner product has none, so it is skipped.
        let ratio = index.kernelMetric == .innerProduct && !index.manifest.normalized ? nil : parameters.maxDistanceRatio
        let lists = PostingScanner.selectLists(
            candidates,
            maxPostings: parameters.maxPostings,
            maxDistanceRatio: ratio,
            distanceOffset: index.reportedOffset
        )
        var now = clock.now
        statistics.centroidSeconds = seconds(now - started)
        scratch.seen.removeAll()
        var results = TopK(k: index.exactRows == nil ? k : Index.rerankDepth(k: k))
        // Posting rows are in the stored type, which differs from the centroids' (float32) when
        // the postings hold int8 codes.
        let rowBytes = index.dimension * index.manifest.elementType.byteWidth
        let checksums = parameters.checksums
        let verify = { (list: Int) -> Bool in
            switch checksums {
            case .everyRead: true
            case .firstRead: !index.verified.contains(list)
            case .never: false
            }
        }
        var corruptList: Int?
        do {
            try index.store.read(lists, into: scratch.buffer, batch: scratch.batch, verify: verify) { list, view in
                let read = clock.now
                statistics.ioSeconds += seconds(read - now)
                if verify(list) { index.verified.insert(list) }
                statistics.postingsRead += 1
                statistics.bytesRead += header.directory[list].byteCount
                guard
                    let computed = PostingScanner.scan(
                        query: query,
                        ids: view.ids,
                        vectors: view.vectors,
                        count: view.count,
                        rowBytes: rowBytes,
                        dimension: header.centroids.dimension,
                        vectorCount: index.count,
                        kernel: Kernel.self,
                        seen: &scratch.seen,
                        results: &results
                    )
                else {
                    corruptList = list
                    return false
                }
                statistics.distancesComputed += computed
                now = clock.now
                statistics.scanSeconds += seconds(now - read)
                return true
            }
        } catch {
            return .failure(SearchError(error.code == .checksumMismatch ? .indexCorrupt : .ioFailure, error.description))
        }
        if let corruptList {
            return .failure(
                SearchError(.indexCorrupt, "\(index.path)/\(IndexLayout.postings): list \(corruptList) holds a vector id ≥ \(index.count)")
            )
        }
        guard let rows = index.exactRows else {
            return .success(SearchResult(neighbors: results.sorted(), statistics: statistics))
        }
        let rerank = Rerank<Kernel>(index: index, rows: rows, candidates: results.sorted(), k: k, scratch: scratch, statistics: statistics)
        return Distance.dispatch(metric: index.kernelMetric, elementType: .float32, to: rerank)
    }

    func seconds(_ duration: Duration) -> Double { duration.seconds }
}
