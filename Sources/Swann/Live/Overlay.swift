import Synchronization

/// Rows written since the base index, append-only: chunks that never move, so a search reads
/// rows below its snapshot's `count` while the writer appends above it, without a lock.
///
/// Row r (counted from the first write, not from the base) holds its user id and its vector in
/// the postings' stored type; `count` in an `Overlay` is what a snapshot may read, and the
/// writer publishes a new one (through the snapshot lock, a happens-before) only after the
/// rows below it are written.
final class DeltaRows: @unchecked Sendable {  // rows below a published count are immutable
    static let rowsPerChunk = 1024
    static let maxChunks = 1 << 16
    /// Bytes per stored row (the postings' row size).
    let rowBytes: Int
    private let stride: Int
    private let chunks: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Rows appended so far (writer only).
    private(set) var appended = 0

    init(rowBytes: Int) {
        self.rowBytes = rowBytes
        stride = 8 + (rowBytes + 7) & ~7
        chunks = .allocate(capacity: Self.maxChunks)
        chunks.initialize(repeating: nil, count: Self.maxChunks)
    }

    deinit {
        for c in 0..<Self.maxChunks { chunks[c]?.deallocate() }
        chunks.deallocate()
    }

    /// Most rows one overlay can hold (the checkpoint limit keeps far below it).
    static var capacity: Int { rowsPerChunk * maxChunks }

    /// Bytes the rows appended so far take (ids and vectors).
    var bytes: Int { appended * stride }

    /// Appends a row (writer only); returns its number.
    func append(userID: UInt64, row: UnsafeRawPointer) -> Int {
        let r = appended
        precondition(r < Self.capacity, "the overlay is full: the checkpoint limit must keep it smaller")
        let c = r / Self.rowsPerChunk
        if chunks[c] == nil { chunks[c] = .allocate(byteCount: Self.rowsPerChunk * stride, alignment: 64) }
        let slot = chunks[c]! + (r % Self.rowsPerChunk) * stride
        slot.storeBytes(of: userID, as: UInt64.self)
        (slot + 8).copyMemory(from: row, byteCount: rowBytes)
        appended += 1
        return r
    }

    /// The stored vector of row `r`.
    @inline(__always)
    func row(_ r: Int) -> UnsafeRawPointer {
        UnsafeRawPointer(chunks[r / Self.rowsPerChunk]! + (r % Self.rowsPerChunk) * stride + 8)
    }

    /// The user id of row `r`.
    @inline(__always)
    func userID(_ r: Int) -> UInt64 {
        chunks[r / Self.rowsPerChunk]!.load(fromByteOffset: (r % Self.rowsPerChunk) * stride, as: UInt64.self)
    }
}

/// Per posting list, the internal ids writes appended to it: a copy-on-write value that a write
/// changes in O(lists / 64 + 64) reference counts rather than O(lists).
///
/// A snapshot shares the lists with the writer, so the writer's next append copies what it
/// touches. With one flat `[[UInt32]]` that is the outer array — one retain per posting list,
/// 15,000 for minilm-100k, which was 40% of a single-point upsert's CPU (perf). Grouping the
/// lists in chunks of 64 copies only the chunk index and one chunk.
struct OverlayLists: Sendable {
    private static let chunkShift = 6
    private var chunks: [[[UInt32]]]

    /// `count` empty lists.
    init(count: Int) {
        let chunkSize = 1 << Self.chunkShift
        chunks = stride(from: 0, to: count, by: chunkSize).map { [[UInt32]](repeating: [], count: min(chunkSize, count - $0)) }
    }

    /// The ids appended to `list`.
    subscript(list: Int) -> [UInt32] {
        chunks[list >> Self.chunkShift][list & ((1 << Self.chunkShift) - 1)]
    }

    /// How many ids were appended to `list`.
    func count(of list: Int) -> Int {
        chunks[list >> Self.chunkShift][list & ((1 << Self.chunkShift) - 1)].count
    }

    mutating func append(_ id: UInt32, to list: Int) {
        chunks[list >> Self.chunkShift][list & ((1 << Self.chunkShift) - 1)].append(id)
    }
}

/// What one search sees of the writes since the base index: immutable, published whole.
///
/// Internal ids (what the scan's seen set and top-k hold) are base rows `0..<baseCount`, then
/// overlay rows `baseCount + r`. A row is *excluded* once deleted or replaced; the scan skips
/// excluded ids, so neither a deleted vector nor an old version of a replaced one is returned.
final class Overlay: Sendable {
    let baseCount: Int
    let rows: DeltaRows
    /// The exact float32 rows beside `rows`, where the postings hold int8 codes (re-ranking
    /// reads them as it reads `vectors.bin` for base rows).
    let exactRows: DeltaRows?
    /// Overlay rows this snapshot may read.
    let rowCount: Int
    /// Per posting list: the internal ids appended to it.
    let lists: OverlayLists
    /// Bitset over internal ids `0..<baseCount + rowCount`.
    let excluded: [UInt64]
    /// Vectors a search can return (base and overlay, less the excluded).
    let liveCount: Int

    init(baseCount: Int, rows: DeltaRows, exactRows: DeltaRows?, rowCount: Int, lists: OverlayLists, excluded: [UInt64], liveCount: Int) {
        self.baseCount = baseCount
        self.rows = rows
        self.exactRows = exactRows
        self.rowCount = rowCount
        self.lists = lists
        self.excluded = excluded
        self.liveCount = liveCount
    }

    /// Internal ids in all: the seen set must hold this many.
    var idCount: Int { baseCount + rowCount }

    @inline(__always)
    func isExcluded(_ id: Int) -> Bool { excluded[id >> 6] & (1 << UInt64(id & 63)) != 0 }

    /// The user id of internal id `id`, which is an overlay row.
    func userID(ofOverlayID id: Int) -> UInt64 { rows.userID(id - baseCount) }
}
