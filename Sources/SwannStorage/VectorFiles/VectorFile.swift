@_spi(Engine) public import SwannCore
import SystemPackage

/// Where a vector file's rows are and how they are shaped, as read from its header.
public struct VectorFileLayout: Sendable, Hashable {
    /// The file layout.
    public var format: VectorFileFormat
    /// How each component is stored.
    public var scalar: FileScalar
    /// Number of rows.
    public var count: Int
    /// Components per row.
    public var dimension: Int
    /// Byte offset of the first row.
    public var dataOffset: Int64
    /// Bytes from one row to the next on disk (includes a TEXMEX dimension prefix).
    public var rowStride: Int
    /// Bytes before each row's components (4 for TEXMEX, 0 otherwise).
    public var rowPrefix: Int
    /// Whether float32 distances follow the ids (a big-ann ground-truth `.ibin`).
    public var hasTrailingDistances: Bool
    /// Size of the file in bytes.
    public var fileSize: Int64

    /// Bytes of component data (no prefixes, no headers).
    public var payloadBytes: Int { count * dimension * scalar.byteWidth }
}

/// An open vector file: its layout is validated on open, rows are read on demand with `pread`.
///
/// Reading never widens: a float16 `.npy` becomes a float16 `VectorMatrix`. Files larger than
/// memory are scanned with `forEachChunk`. Every malformed input raises a `VectorFileError` naming
/// the file, the byte offset, and what was expected versus found.
public final class VectorFile: Sendable {
    /// The path as given.
    public let path: String
    /// The validated layout.
    public let layout: VectorFileLayout
    private let descriptor: FileDescriptor

    /// Opens `path` and validates its header against its size.
    /// - Parameter format: the layout to assume; by default taken from the extension.
    /// - Throws: `VectorFileError` for an unknown extension, a missing file, or a malformed header.
    public init(path: String, format: VectorFileFormat? = nil) throws(VectorFileError) {
        guard let format = format ?? VectorFileFormat(path: path) else {
            throw VectorFileError(
                .unknownFormat,
                path: path,
                expected: "an extension among " + VectorFileFormat.allCases.map { "." + $0.rawValue }.joined(separator: " ")
                    + " (or --format)",
                found: "'\(path.split(separator: "/").last.map(String.init) ?? path)'"
            )
        }
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
        } catch {
            throw VectorFileError(.cannotOpen, path: path, found: "\(error)")
        }
        do {
            self.layout = try LayoutReader(path: path, descriptor: descriptor).read(format: format)
        } catch {
            try? descriptor.close()
            throw error
        }
        self.path = path
        self.descriptor = descriptor
    }

    deinit { try? descriptor.close() }

    /// Number of rows.
    public var count: Int { layout.count }
    /// Components per row.
    public var dimension: Int { layout.dimension }

    /// Reads `rows` (all by default) into a matrix of the file's element type.
    /// - Throws: `VectorFileError` if the file holds int32 ids, is truncated, or a TEXMEX row
    ///   has a different dimension.
    public func readVectors(rows: Range<Int>? = nil) throws(VectorFileError) -> VectorMatrix {
        guard let elementType = layout.scalar.elementType else {
            throw VectorFileError(
                .wrongScalarType,
                path: path,
                expected: "vectors of float32, float16, int8 or uint8",
                found: "int32 components (an id or ground-truth file)"
            )
        }
        let rows = rows ?? 0..<layout.count
        precondition(rows.lowerBound >= 0 && rows.upperBound <= layout.count, "rows \(rows) out of 0..<\(layout.count)")
        let matrix: VectorMatrix
        do {
            matrix = try VectorMatrix(elementType: elementType, count: rows.count, dimension: layout.dimension)
        } catch {
            throw VectorFileError(.badDimension, path: path, found: error.detail)
        }
        try readRows(rows, into: matrix.mutableRawBytes)
        return matrix
    }

    /// Calls `body(chunk, firstRow)` for consecutive chunks of at most `rowsPerChunk` rows, so a
    /// file larger than memory can be scanned with bounded memory.
    public func forEachChunk(
        rowsPerChunk: Int,
        _ body: (VectorMatrix, Int) throws -> Void
    ) throws {
        precondition(rowsPerChunk >= 1)
        var start = 0
        while start < layout.count {
            let end = min(start + rowsPerChunk, layout.count)
            try body(try readVectors(rows: start..<end), start)
            start = end
        }
    }

    /// Reads an int32 file (ground truth: `.ivecs`, `.ibin`, int32 `.npy`) as a neighbour table.
    /// Distances come along when the file carries them (a big-ann `.ibin`).
    public func readNeighbors() throws(VectorFileError) -> NeighborTable {
        guard layout.scalar == .int32 else {
            throw VectorFileError(
                .wrongScalarType,
                path: path,
                expected: "int32 ids (.ivecs, .ibin or int32 .npy)",
                found: "\(layout.scalar) components"
            )
        }
        let n = layout.count * layout.dimension
        var raw = [Int32](repeating: 0, count: n)
        try raw.withMutableBytes { buffer throws(VectorFileError) in
            try readRows(0..<layout.count, into: buffer)
        }
        var distances: [Float] = []
        if layout.hasTrailingDistances {
            distances = [Float](repeating: 0, count: n)
            let offset = layout.dataOffset + Int64(n * 4)
            try distances.withMutableBytes { buffer throws(VectorFileError) in
                try readExactly(at: offset, into: buffer)
            }
        }
        return NeighborTable(
            queryCount: layout.count,
            k: layout.dimension,
            ids: raw.map { Int64(Int32(littleEndian: $0)) },
            distances: distances
        )
    }

    /// Reads a one-column id file: int32 (`.ivecs`, `.ibin`, `.npy`) or int64/uint64 (`.npy`).
    /// - Throws: `VectorFileError` for more than one column, a negative id, or a vector file.
    public func readIDs() throws(VectorFileError) -> [UInt64] {
        guard layout.dimension == 1 else {
            throw VectorFileError(.badDimension, path: path, expected: "one id per row", found: "\(layout.dimension) columns")
        }
        switch layout.scalar {
        case .int32:
            return try readNeighbors().ids.enumerated().map { row, id throws(VectorFileError) in
                guard id >= 0 else { throw VectorFileError(.outOfRange, path: path, expected: "non-negative ids", found: "\(id) at row \(row)") }
                return UInt64(id)
            }
        case .int64, .uint64:
            var raw = [UInt64](repeating: 0, count: layout.count)
            try raw.withMutableBytes { buffer throws(VectorFileError) in try readRows(0..<layout.count, into: buffer) }
            if layout.scalar == .int64, let row = raw.firstIndex(where: { Int64(bitPattern: UInt64(littleEndian: $0)) < 0 }) {
                throw VectorFileError(.outOfRange, path: path, expected: "non-negative ids", found: "\(Int64(bitPattern: raw[row])) at row \(row)")
            }
            return raw.map { UInt64(littleEndian: $0) }
        case .float32, .float16, .int8, .uint8:
            throw VectorFileError(.wrongScalarType, path: path, expected: "integer ids", found: "\(layout.scalar) components")
        }
    }

    private func readRows(_ rows: Range<Int>, into destination: UnsafeMutableRawBufferPointer) throws(VectorFileError) {
        let rowBytes = layout.dimension * layout.scalar.byteWidth
        let start = layout.dataOffset + Int64(rows.lowerBound) * Int64(layout.rowStride)
        guard layout.rowPrefix > 0 else {
            try readExactly(at: start, into: UnsafeMutableRawBufferPointer(rebasing: destination[0..<rows.count * rowBytes]))
            return
        }
        // TEXMEX: read a few MiB of rows at a time, check each row's prefix, strip it.
        let rowsPerRead = max(1, (4 << 20) / layout.rowStride)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: rowsPerRead * layout.rowStride, alignment: 64)
        defer { scratch.deallocate() }
        var row = rows.lowerBound
        while row < rows.upperBound {
            let batch = min(rowsPerRead, rows.upperBound - row)
            let offset = layout.dataOffset + Int64(row) * Int64(layout.rowStride)
            try readExactly(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<batch * layout.rowStride]))
            for i in 0..<batch {
                let prefix = Int32(littleEndian: scratch.loadUnaligned(fromByteOffset: i * layout.rowStride, as: Int32.self))
                guard prefix == layout.dimension else {
                    throw VectorFileError(
                        .inconsistentDimension,
                        path: path,
                        offset: offset + Int64(i * layout.rowStride),
                        expected: "row \(row + i) of dimension \(layout.dimension)",
                        found: "\(prefix)"
                    )
                }
                let target = (row + i - rows.lowerBound) * rowBytes
                destination.baseAddress!.advanced(by: target).copyMemory(
                    from: scratch.baseAddress!.advanced(by: i * layout.rowStride + 4),
                    byteCount: rowBytes
                )
            }
            row += batch
        }
    }

    private func readExactly(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(VectorFileError) {
        var done = 0
        while done < buffer.count {
            let n: Int
            do {
                n = try descriptor.read(
                    fromAbsoluteOffset: offset + Int64(done),
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...])
                )
            } catch {
                throw VectorFileError(.ioFailure, path: path, offset: offset + Int64(done), found: "\(error)")
            }
            guard n > 0 else {
                throw VectorFileError(
                    .truncated,
                    path: path,
                    offset: offset + Int64(done),
                    expected: "\(buffer.count - done) more bytes",
                    found: "end of file"
                )
            }
            done += n
        }
    }
}
