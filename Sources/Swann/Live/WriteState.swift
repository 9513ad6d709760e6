@_spi(Engine) import SwannCore
import SwannStorage

/// The writable state over one base index: the overlay rows, the lists they were appended to,
/// the excluded (deleted or replaced) ids and where each user id lives. Owned by one writer at
/// a time (`IndexWriterActor`); searches see it only through published `Overlay`s.
struct WriteState {
    let base: Index
    let rows: DeltaRows
    /// Exact float32 rows beside the int8 codes in `rows` (`--store int8` indexes), else nil.
    let exactRows: DeltaRows?
    var lists: OverlayLists
    var excluded: [UInt64]
    var liveCount: Int
    /// Lists whose entries (base and appended) pass the split length.
    private(set) var oversizedLists: Int
    /// Those already over it in the base (lists of identical vectors, which cannot split): they
    /// do not start checkpoints, or every write would.
    private let oversizedInBase: Int
    /// User id → internalID id, built on first use (a read-only server may never need it).
    private var locations: [UInt64: UInt32]?
    /// The posting list holding each base row (for reading a base vector back), built on first use.
    private var listOfBaseRow: [UInt32]?

    /// The length past which a list splits at the next checkpoint (`Rebalancer.splitLength`).
    let splitLength: Int

    /// The split length of `base`'s lists: the build's posting limit when rebalancing is off.
    static func splitLength(of base: Index, rebalance: RebalanceConfiguration) -> Int {
        let limit = base.manifest.build.assignment.postingLimit
        guard rebalance.isEnabled else { return limit }
        return Rebalancer.splitLength(
            entries: base.manifest.postingEntryCount,
            centroids: base.header.centroids.count,
            rules: Rebalancer.Rules(
                targetCentroids: base.header.centroids.count,
                assignment: base.manifest.build.assignment,
                graph: base.manifest.build.graph,
                rebalance: rebalance,
                threads: 1
            )
        )
    }

    init(base: Index, rebalance: RebalanceConfiguration = RebalanceConfiguration()) {
        self.base = base
        rows = DeltaRows(rowBytes: base.dimension * base.manifest.elementType.byteWidth)
        exactRows = base.manifest.quantization == nil ? nil : DeltaRows(rowBytes: base.dimension * 4)
        lists = OverlayLists(count: base.header.directory.count)
        excluded = [UInt64](repeating: 0, count: (base.count + 63) / 64)
        liveCount = base.count
        splitLength = Self.splitLength(of: base, rebalance: rebalance)
        oversizedLists = base.header.directory.count { [splitLength] in $0.entryCount > splitLength }
        oversizedInBase = oversizedLists
    }

    var baseCount: Int { base.count }

    /// Whether any write has been applied since the base.
    var isModified: Bool { rows.appended > 0 || liveCount != base.count || excluded.contains { $0 != 0 } }

    /// The snapshot searches see now.
    func overlay() -> Overlay {
        Overlay(
            baseCount: baseCount,
            rows: rows,
            exactRows: exactRows,
            rowCount: rows.appended,
            lists: lists,
            excluded: excluded,
            liveCount: liveCount
        )
    }

    /// The state as it is now, frozen for a checkpoint (`CheckpointSource`).
    func checkpointSource() -> CheckpointSource { CheckpointSource(base: base, overlay: overlay()) }

    /// Bytes the overlay holds (rows, and exact rows beside int8 codes).
    var overlayBytes: Int { rows.bytes + (exactRows?.bytes ?? 0) }

    /// A batch checked whole and converted, ready to apply.
    struct PreparedBatch {
        var ids: [UInt64]
        /// Stored-type rows, `rowBytes` each.
        var storedRows: [UInt8]
        /// The exact float32 rows (normalised for cosine) where the stored rows are int8 codes;
        /// empty otherwise.
        var exactRows: [Float]
        /// The chosen posting lists of each point.
        var assignments: [[UInt32]]
    }

    /// Checks every point of a batch (dimension, finite, range, zero for cosine) and assigns it
    /// to posting lists like the build does (centroid search, closure and RNG rules, replicas).
    /// Changes nothing: a batch with one bad point is refused whole.
    func prepare(ids: [UInt64], vectors: [Float]) throws(WriteError) -> PreparedBatch {
        let dimension = base.dimension
        guard vectors.count == ids.count * dimension else {
            throw WriteError(.invalidVector, "\(ids.count) ids need \(ids.count * dimension) components, got \(vectors.count)")
        }
        let shard = base.manifest.shard
        if shard.count > 1, let foreign = ids.first(where: { !shard.owns($0) }) {
            throw WriteError(
                .invalidVector,
                "id \(foreign) belongs to shard \(ShardPosition.owner(of: foreign, shardCount: shard.count)) of \(shard.count) (id % \(shard.count)); this index is shard \(shard.index): write through swann route, or to that shard"
            )
        }
        guard baseCount + rows.appended + ids.count < Int(UInt32.max), rows.appended + ids.count <= DeltaRows.capacity else {
            throw WriteError(.invalidBatch, "the index cannot hold \(ids.count) more vectors before a checkpoint")
        }
        let rowBytes = rows.rowBytes
        var storedRows = [UInt8](repeating: 0, count: ids.count * rowBytes)
        var exact = [Float](repeating: 0, count: exactRows == nil ? 0 : ids.count * dimension)
        // Points are assigned independently: large batches (and the log replay) use every core,
        // one scratch each; a small batch stays on the calling thread.
        let chunkCount = ids.count >= 64 ? max(1, min(Parallel.coreCount, ids.count / 32)) : 1
        let perChunk = (ids.count + chunkCount - 1) / chunkCount
        var chunkAssignments = [[[UInt32]]](repeating: [], count: chunkCount)
        var chunkErrors = [WriteError?](repeating: nil, count: chunkCount)
        storedRows.withUnsafeMutableBytes { out in
            exact.withUnsafeMutableBufferPointer { exactOut in
                chunkAssignments.withUnsafeMutableBufferPointer { assignments in
                    chunkErrors.withUnsafeMutableBufferPointer { errors in
                        // Each chunk writes its own rows of `out` and `exactOut` and its own
                        // element of the others.
                        let shared = UncheckedSendable((out.baseAddress!, exactRows == nil ? nil : exactOut.baseAddress, assignments, errors))
                        Parallel.forEach(items: chunkCount, threads: chunkCount) { chunk in
                            let (out, exactOut, assignments, errors) = shared.value
                            let range = chunk * perChunk..<min(ids.count, (chunk + 1) * perChunk)
                            do throws(WriteError) {
                                assignments[chunk] = try assign(range, ids: ids, vectors: vectors, storedRows: out, exactRows: exactOut)
                            } catch {
                                errors[chunk] = error
                            }
                        }
                    }
                }
            }
        }
        if let error = chunkErrors.lazy.compactMap({ $0 }).first { throw error }
        return PreparedBatch(ids: ids, storedRows: storedRows, exactRows: exact, assignments: Array(chunkAssignments.joined()))
    }

    /// Validates, converts and assigns points `range` of a batch, writing their stored rows
    /// into `storedRows` (the whole batch's buffer); returns each point's lists.
    private func assign(
        _ range: Range<Int>,
        ids: [UInt64],
        vectors: [Float],
        storedRows: UnsafeMutableRawPointer,
        exactRows: UnsafeMutablePointer<Float>?
    ) throws(WriteError) -> [[UInt32]] {
        let dimension = base.dimension
        let rowBytes = rows.rowBytes
        var assignments: [[UInt32]] = []
        assignments.reserveCapacity(range.count)
        let scratch = base.takeScratch()
        defer { base.returnScratch(scratch) }
        let configuration = base.manifest.build.assignment
        var centroidSlots = [UInt32](repeating: 0, count: configuration.replicaCount)
        var distanceSlots = [Float](repeating: 0, count: configuration.replicaCount)
        for i in range {
            do throws(SearchError) {
                try vectors.withUnsafeBufferPointer { all throws(SearchError) in
                    try base.prepare(UnsafeBufferPointer(rebasing: all[i * dimension..<(i + 1) * dimension]), into: scratch)
                }
            } catch {
                throw WriteError(.invalidVector, "point \(i) (id \(ids[i])): \(error.message)")
            }
            (storedRows + i * rowBytes).copyMemory(from: scratch.query.row(0), byteCount: rowBytes)
            if let exactRows {
                // `prepare` left the (normalised) float32 vector in `floats`, its codes in `query`.
                scratch.floats.withUnsafeBufferPointer { (exactRows + i * dimension).update(from: $0.baseAddress!, count: dimension) }
            }
            // Squared L2 on the (normalised) float32 vector, as the build assigns.
            _ = scratch.floats.withUnsafeBufferPointer { floats in
                Distance.dispatch(
                    metric: .l2,
                    elementType: .float32,
                    to: CentroidSearch(
                        query: floats.baseAddress!,
                        index: base,
                        beamWidth: configuration.candidateCount,
                        exactCount: nil,
                        scratch: scratch
                    )
                )
            }
            let chosen = centroidSlots.withUnsafeMutableBufferPointer { centroids in
                distanceSlots.withUnsafeMutableBufferPointer { distances in
                    PostingAssignment.choose(
                        from: scratch.candidates,
                        centroids: base.centroids,
                        configuration: configuration,
                        kernel: L2Float32.self,
                        into: (centroids.baseAddress!, distances.baseAddress!)
                    )
                }
            }
            assignments.append(Array(centroidSlots[0..<chosen]))
        }
        return assignments
    }

    /// Applies a prepared upsert: each point replaces any earlier vector of its id.
    mutating func apply(_ batch: PreparedBatch) {
        buildLocations()
        batch.storedRows.withUnsafeBytes { stored in
            for (i, id) in batch.ids.enumerated() {
                if let old = locations![id] {
                    exclude(Int(old))
                }
                let internalID = baseCount + rows.append(userID: id, row: stored.baseAddress! + i * rows.rowBytes)
                if let exactRows {
                    batch.exactRows.withUnsafeBytes { exact in
                        _ = exactRows.append(userID: id, row: exact.baseAddress! + i * exactRows.rowBytes)
                    }
                }
                let words = (internalID + 64) / 64
                if excluded.count < words { excluded += [UInt64](repeating: 0, count: words - excluded.count) }
                for list in batch.assignments[i] {
                    lists.append(UInt32(internalID), to: Int(list))
                    if base.header.directory[Int(list)].entryCount + lists.count(of: Int(list)) == splitLength + 1 { oversizedLists += 1 }
                }
                locations![id] = UInt32(internalID)
                liveCount += 1
            }
        }
    }

    /// Vectors deleted or replaced since the base: their entries are dead weight in the lists.
    var deadVectors: Int { baseCount + rows.appended - liveCount }

    /// Centroids the live vectors should have less those the base has.
    var centroidDeficit: Int {
        max(1, Int((Double(liveCount) * base.manifest.build.heads.centroidRatio).rounded())) - base.header.centroids.count
    }

    /// Why a checkpoint should run now, if it should.
    func checkpointDue(_ options: LiveIndex.WriteOptions) -> RebalanceStatus.Reason? {
        if overlayBytes >= options.checkpointBytes { return .overlayFull }
        let configuration = options.rebalance
        if deadVectors > 0, Double(deadVectors) >= configuration.compactionFraction * Double(max(1, baseCount)) { return .compaction }
        guard configuration.isEnabled else { return nil }
        let centroids = base.header.centroids.count
        if oversizedLists - oversizedInBase >= max(configuration.oversizedListsDue, centroids / 100) { return .oversizedLists }
        let target = centroids + centroidDeficit
        if Double(target) > Double(centroids) * (1 + configuration.surplusFraction)
            || Double(target) * (1 + configuration.surplusFraction) < Double(centroids)
        {
            return .centroidCount
        }
        return nil
    }

    /// Applies the records of a write-ahead log in order. Upsert records in a row are assigned as one batch, so that a server's log of single-point
    /// writes is replayed on every core like a large batch (assignment is most of a replay's
    /// cost); they are applied in log order, so a later upsert of an id still wins.
    mutating func replay(_ records: [LogRecord], logPath: String) throws(IndexError) {
        let groupLimit = 4_096
        var n = 0
        while n < records.count {
            if case .delete(let ids) = records[n] {
                delete(ids)
                n += 1
                continue
            }
            var ids: [UInt64] = []
            var vectors: [Float] = []
            var end = n
            while end < records.count, case .upsert(let more, let rows) = records[end], end == n || ids.count + more.count <= groupLimit {
                ids += more
                vectors += rows
                end += 1
            }
            do throws(WriteError) {
                apply(try prepare(ids: ids, vectors: vectors))
            } catch {
                // Nothing of the group was applied: replay it record by record, which names the
                // record that cannot be replayed (and applies the group if only its size failed).
                for record in n..<end {
                    guard case .upsert(let ids, let vectors) = records[record] else { continue }
                    do throws(WriteError) {
                        apply(try prepare(ids: ids, vectors: vectors))
                    } catch {
                        throw IndexError(.inconsistent, path: logPath, detail: "record \(record) cannot be replayed: \(error.message)")
                    }
                }
            }
            n = end
        }
    }

    /// Deletes `ids`; returns how many were present.
    @discardableResult
    mutating func delete(_ ids: [UInt64]) -> Int {
        buildLocations()
        var deleted = 0
        for id in ids {
            guard let old = locations!.removeValue(forKey: id) else { continue }
            exclude(Int(old))
            deleted += 1
        }
        return deleted
    }

    private mutating func exclude(_ internalID: Int) {
        excluded[internalID >> 6] |= 1 << UInt64(internalID & 63)
        liveCount -= 1
    }

    private mutating func buildLocations() {
        guard locations == nil else { return }
        var map = [UInt64: UInt32](minimumCapacity: baseCount)
        if let ids = base.header.idMap {
            for (row, id) in ids.enumerated() { map[id] = UInt32(row) }
        } else {
            for row in 0..<baseCount { map[UInt64(row)] = UInt32(row) }
        }
        locations = map
    }

    /// One more than the largest id stored (0 for an empty index).
    mutating func nextFreeID() -> UInt64 {
        buildLocations()
        return locations!.keys.max().map { $0 == .max ? $0 : $0 + 1 } ?? 0
    }

    /// The vector stored under `id` (normalised for a cosine index), or nil.
    mutating func vector(id: UInt64) throws(WriteError) -> [Float]? {
        buildLocations()
        guard let internalID = locations![id].map(Int.init) else { return nil }
        let dimension = base.dimension
        var vector = [Float](repeating: 0, count: dimension)
        if internalID >= baseCount {
            if let exactRows {
                vector.withUnsafeMutableBytes {
                    $0.copyMemory(from: UnsafeRawBufferPointer(start: exactRows.row(internalID - baseCount), count: exactRows.rowBytes))
                }
            } else {
                ElementConversion.widen(rows.row(internalID - baseCount), elementType: base.manifest.elementType, count: dimension, into: &vector)
            }
            return vector
        }
        if let exact = base.exactRows {
            // int8 codes in the postings: the exact row is in vectors.bin.
            let buffer = PostingBuffer(capacity: exact.bufferBytes)
            // The row points into the buffer: it must live until the copy below.
            defer { withExtendedLifetime(buffer) {} }
            do {
                let row = try exact.read(internalID, into: buffer)
                vector.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: row, count: exact.rowBytes)) }
                return vector
            } catch {
                throw WriteError(.ioFailure, error.description)
            }
        }
        if listOfBaseRow == nil { listOfBaseRow = try Self.listsOfRows(base) }
        let list = Int(listOfBaseRow![internalID])
        let buffer = PostingBuffer(capacity: base.header.directory[list].byteCount)
        defer { withExtendedLifetime(buffer) {} }  // the view points into it
        do {
            let view = try base.store.read(list, into: buffer, verify: true)
            for i in 0..<view.count where Int(view.ids[i]) == internalID {
                ElementConversion.widen(view.vectors + i * rows.rowBytes, elementType: base.manifest.elementType, count: dimension, into: &vector)
                return vector
            }
        } catch {
            throw WriteError(.ioFailure, error.description)
        }
        throw WriteError(.ioFailure, "\(base.path): row \(internalID) is missing from its posting list \(list)")
    }

    /// One list holding each base row, from a pass over every list's ids.
    static func listsOfRows(_ base: Index) throws(WriteError) -> [UInt32] {
        var listOf = [UInt32](repeating: .max, count: base.count)
        let buffer = PostingBuffer()
        defer { withExtendedLifetime(buffer) {} }  // each view points into it
        for list in 0..<base.header.directory.count {
            buffer.reserve(base.header.directory[list].byteCount)
            do {
                let view = try base.store.read(list, into: buffer, verify: true)
                for i in 0..<view.count where Int(view.ids[i]) < base.count { listOf[Int(view.ids[i])] = UInt32(list) }
            } catch {
                throw WriteError(.ioFailure, error.description)
            }
        }
        return listOf
    }
}
