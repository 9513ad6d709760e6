@_spi(Engine) import SwannCore
import SwannStorage

/// What a checkpoint folds: a base index and one published overlay over it, frozen. The writer
/// goes on appending to the live state while a checkpoint computes from this in the background;
/// the overlay only reads rows below its own `rowCount`, which later appends never touch.
struct CheckpointSource: Sendable {
    let base: Index
    let overlay: Overlay

    var baseCount: Int { overlay.baseCount }
    var liveCount: Int { overlay.liveCount }

    /// The whole index as it stands (base less excluded rows, plus overlay rows), renumbered
    /// densely, for `IndexWriter`: base rows first in their order, then overlay rows in the
    /// order written. Dead entries are gone (compaction); with `rebalance` enabled, lists are
    /// split, merged and their vectors reassigned (`Rebalancer`), otherwise centroids and graph
    /// are the base's. `toTarget` brings the centroid count to its target even when it is
    /// within the tolerated surplus (a checkpoint asked for, rather than started by writes).
    func checkpointContents(rebalance: RebalanceConfiguration, toTarget: Bool) throws(WriteError) -> IndexContents {
        let header = base.header
        let dimension = base.dimension
        let elementType = base.manifest.elementType
        let rows = overlay.rows
        let rowBytes = rows.rowBytes
        var newRow = [UInt32](repeating: .max, count: overlay.idCount)
        var idMap: [UInt64] = []
        idMap.reserveCapacity(liveCount)
        for internalID in 0..<newRow.count where !overlay.isExcluded(internalID) {
            newRow[internalID] = UInt32(idMap.count)
            idMap.append(
                internalID < baseCount ? header.idMap?[internalID] ?? UInt64(internalID) : rows.userID(internalID - baseCount)
            )
        }
        let total = idMap.count
        // RaBitQ postings hold codes made against each list's centroid, not rows: the rows come
        // from vectors.bin and the overlay (`exactContents`), and the writer encodes them anew.
        let coded = base.manifest.rabitq != nil
        let vectors: VectorMatrix
        do { vectors = try VectorMatrix(elementType: elementType, count: coded ? 0 : total, dimension: dimension) } catch {
            throw WriteError(.invalidBatch, "the checkpoint cannot hold \(total) vectors: \(error)")
        }
        let out = vectors.mutableRawBytes.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 8)!
        var filled = [Bool](repeating: false, count: total)
        var lists = [[PostingAssignment.Member]](repeating: [], count: header.directory.count)
        let buffer = PostingBuffer()
        defer { withExtendedLifetime(buffer) {} }  // each view points into it
        for list in 0..<header.directory.count {
            buffer.reserve(header.directory[list].byteCount)
            let view: PostingView
            do { view = try base.store.read(list, into: buffer, verify: true) } catch { throw WriteError(.ioFailure, error.description) }
            for i in 0..<view.count {
                let internalID = Int(view.ids[i])
                guard internalID < baseCount else { throw WriteError(.ioFailure, "\(base.path): list \(list) holds a row ≥ \(baseCount)") }
                let row = newRow[internalID]
                guard row != .max else { continue }
                lists[list].append(PostingAssignment.Member(vector: row, distance: 0, isPrimary: false))
                if !filled[Int(row)] {
                    if !coded { (out + Int(row) * rowBytes).copyMemory(from: view.vectors + i * rowBytes, byteCount: rowBytes) }
                    filled[Int(row)] = true
                }
            }
            for internalID in overlay.lists[list] {
                let row = newRow[Int(internalID)]
                guard row != .max else { continue }
                lists[list].append(PostingAssignment.Member(vector: row, distance: 0, isPrimary: false))
                if !filled[Int(row)] {
                    if !coded { (out + Int(row) * rowBytes).copyMemory(from: rows.row(Int(internalID) - baseCount), byteCount: rowBytes) }
                    filled[Int(row)] = true
                }
            }
        }
        if let missing = filled.firstIndex(of: false) {
            throw WriteError(.ioFailure, "\(base.path): vector id \(idMap[missing]) is in no posting list; the index is inconsistent")
        }
        let exact = try exactContents(rowOf: newRow, count: total)
        var partition = Partition(
            centroids: header.centroids,
            centroidRows: header.centroidRows.map { row in
                row == IndexLayout.noRow || Int(row) >= baseCount ? IndexLayout.noRow : newRow[Int(row)]
            },
            graph: header.graph,
            lists: lists
        )
        var statistics: RebalanceStatistics?
        if rebalance.isEnabled, total > 0 {
            statistics = try rebalanced(&partition, vectors: exact ?? vectors, configuration: rebalance, toTarget: toTarget)
        }
        lists = partition.lists
        var copies = [Int](repeating: 0, count: total)
        for list in lists { for member in list { copies[Int(member.vector)] += 1 } }
        var manifest = base.manifest
        manifest.writer = "swann \(SwannVersion.current)"
        manifest.vectorCount = total
        manifest.postingEntryCount = lists.reduce(0) { $0 + $1.count }
        manifest.copyHistogram = [Int](repeating: 0, count: max(manifest.build.assignment.replicaCount, copies.max() ?? 0) + 1)
        for count in copies { manifest.copyHistogram[count] += 1 }
        manifest.hasIDMap = true
        manifest.centroidCount = partition.centroids.count
        if let statistics { manifest.rebalanced = (manifest.rebalanced ?? RebalanceStatistics()) + statistics }
        manifest.files = []
        manifest.manifestChecksum = nil
        return IndexContents(
            manifest: manifest,
            centroidRows: partition.centroidRows,
            centroids: partition.centroids,
            graph: partition.graph,
            lists: lists,
            vectors: coded ? exact ?? vectors : vectors,
            idMap: idMap,
            exactRows: exact
        )
    }

    /// Centroids (as `centroids.bin` stores them), the row each is, the graph and the lists.
    struct Partition {
        var centroids: VectorMatrix
        var centroidRows: [UInt32]
        var graph: CentroidGraph
        var lists: [[PostingAssignment.Member]]
    }

    /// Runs the `Rebalancer` on float32 copies of the rows and centroids (as the build assigns:
    /// normalised for cosine) and converts its centroids back to the stored type.
    private func rebalanced(
        _ partition: inout Partition,
        vectors: VectorMatrix,
        configuration: RebalanceConfiguration,
        toTarget: Bool
    ) throws(WriteError) -> RebalanceStatistics {
        let manifest = base.manifest
        let rows: VectorMatrix
        do { rows = vectors.elementType == .float32 ? vectors : try vectors.converted(to: .float32) } catch {
            throw WriteError(.invalidBatch, "the checkpoint cannot rebalance: \(error)")
        }
        let rules = Rebalancer.Rules(
            targetCentroids: max(1, Int((Double(liveCount) * manifest.build.heads.centroidRatio).rounded())),
            assignment: manifest.build.assignment,
            graph: manifest.build.graph,
            rebalance: configuration,
            threads: configuration.threads,
            toleratesSurplus: !toTarget
        )
        let (result, statistics) = Rebalancer.rebalance(
            Rebalancer.Partition(
                centroids: base.centroids,
                graph: partition.graph,
                lists: partition.lists,
                headless: partition.centroidRows.map { $0 == IndexLayout.noRow }
            ),
            vectors: rows,
            rules: rules
        )
        let centroids: VectorMatrix
        do {
            let stored = manifest.centroidElementType
            centroids = stored == .float32 ? result.centroids : try result.centroids.converted(to: stored)
        } catch {
            throw WriteError(.invalidBatch, "the checkpoint cannot rebalance: \(error)")
        }
        partition = Partition(
            centroids: centroids,
            centroidRows: result.origins.map { origin in
                switch origin {
                case .centroid(let old): partition.centroidRows[old]
                case .row(let row): UInt32(row)
                }
            },
            graph: result.graph,
            lists: result.lists
        )
        return statistics
    }

    /// The exact float32 rows of an index of int8 or RaBitQ codes, renumbered like the codes
    /// (base rows from vectors.bin, overlay rows from memory); nil for other indexes.
    private func exactContents(rowOf newRow: [UInt32], count: Int) throws(WriteError) -> VectorMatrix? {
        guard let store = base.exactRows, let overlayRows = overlay.exactRows ?? (base.manifest.rabitq != nil ? overlay.rows : nil) else {
            return nil
        }
        let matrix: VectorMatrix
        do { matrix = try VectorMatrix(elementType: .float32, count: count, dimension: base.dimension) } catch {
            throw WriteError(.invalidBatch, "the checkpoint cannot hold \(count) exact rows: \(error)")
        }
        let out = matrix.mutableRawBytes.baseAddress!
        let rowBytes = store.rowBytes
        let buffer = PostingBuffer(capacity: store.bufferBytes)
        defer { withExtendedLifetime(buffer) {} }  // each row points into it
        for (internalID, row) in newRow.enumerated() where row != .max {
            let source: UnsafeRawPointer
            if internalID < baseCount {
                do { source = try store.read(internalID, into: buffer) } catch { throw WriteError(.ioFailure, error.description) }
            } else {
                source = overlayRows.row(internalID - baseCount)
            }
            (out + Int(row) * rowBytes).copyMemory(from: source, byteCount: rowBytes)
        }
        return matrix
    }
}
