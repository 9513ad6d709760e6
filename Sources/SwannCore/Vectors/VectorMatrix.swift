/// A dense, row-major matrix of vectors of one element type, held in one aligned allocation.
///
/// This is the only in-memory vector container in Swann: readers fill it, kernels read rows
/// straight out of it as raw pointers, and nothing in a hot loop touches ARC. Rows are packed
/// (`rowBytes == dimension * elementType.byteWidth`) so a matrix is byte-for-byte the payload of
/// a `.fbin`/`.u8bin` file. The base address is 64-byte aligned.
///
/// Threading: the contents are written only while the matrix is being filled (through the
/// `package` mutators, before it is handed out); after that it is immutable and safe to share.
public final class VectorMatrix: @unchecked Sendable {
    /// The scalar type of every component.
    public let elementType: ElementType
    /// Number of vectors (rows).
    public let count: Int
    /// Number of components per vector.
    public let dimension: Int
    /// Bytes per row: `dimension * elementType.byteWidth`.
    public let rowBytes: Int
    @usableFromInline let storage: UnsafeMutableRawPointer

    /// The largest dimension Swann accepts anywhere; larger values are taken as corruption.
    public static let maximumDimension = 65_536

    /// Allocates a zero-filled matrix.
    /// - Throws: `VectorMatrix.SizeError` if the dimension is outside 1...65,536 or the byte size
    ///   overflows `Int`.
    public init(elementType: ElementType, count: Int, dimension: Int) throws(SizeError) {
        guard dimension >= 1, dimension <= Self.maximumDimension else {
            throw SizeError(detail: "dimension \(dimension) is outside 1...\(Self.maximumDimension)")
        }
        guard count >= 0 else { throw SizeError(detail: "negative count \(count)") }
        let (row, o1) = dimension.multipliedReportingOverflow(by: elementType.byteWidth)
        let (total, o2) = row.multipliedReportingOverflow(by: count)
        guard !o1, !o2 else {
            throw SizeError(detail: "\(count) × \(dimension) × \(elementType.byteWidth) bytes overflows")
        }
        self.elementType = elementType
        self.count = count
        self.dimension = dimension
        self.rowBytes = row
        self.storage = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1), alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: max(total, 1))
    }

    deinit { storage.deallocate() }

    /// Total payload size in bytes.
    public var byteCount: Int { rowBytes &* count }

    /// The raw bytes of row `index`.
    /// - Precondition: `0 <= index < count`.
    @inlinable
    public func row(_ index: Int) -> UnsafeRawPointer {
        precondition(index >= 0 && index < count, "row \(index) out of 0..<\(count)")
        return UnsafeRawPointer(storage + index &* rowBytes)
    }

    /// Row `index` without a bounds check, for kernels that have already validated the range.
    @inlinable
    public func uncheckedRow(_ index: Int) -> UnsafeRawPointer {
        UnsafeRawPointer(storage + index &* rowBytes)
    }

    /// All rows as one buffer.
    public var rawBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage, count: byteCount)
    }

    /// Writable access to the payload while the matrix is being filled.
    @_spi(Engine) public var mutableRawBytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: storage, count: byteCount)
    }

    /// Row `index` widened to `Float` (for display, statistics and conversion; not for hot loops).
    public func floats(at index: Int) -> [Float] {
        let source = row(index)
        return [Float](unsafeUninitializedCapacity: dimension) { buffer, initialized in
            ElementConversion.widen(source, elementType: elementType, count: dimension, into: buffer.baseAddress!)
            initialized = dimension
        }
    }

    /// Builds a matrix from `Float` rows, storing them as `elementType` (rounded and clamped).
    public static func from(
        _ rows: [[Float]],
        elementType: ElementType = .float32
    ) throws(SizeError) -> VectorMatrix {
        let dimension = rows.first?.count ?? 1
        let matrix = try VectorMatrix(elementType: elementType, count: rows.count, dimension: dimension)
        for (i, values) in rows.enumerated() {
            guard values.count == dimension else {
                throw SizeError(detail: "row \(i) has \(values.count) components, expected \(dimension)")
            }
            values.withUnsafeBufferPointer { buffer in
                ElementConversion.narrow(
                    buffer.baseAddress!,
                    count: dimension,
                    to: elementType,
                    into: matrix.storage + i * matrix.rowBytes
                )
            }
        }
        return matrix
    }

    /// Copies the matrix converted to another element type.
    public func converted(to target: ElementType) throws(SizeError) -> VectorMatrix {
        let result = try VectorMatrix(elementType: target, count: count, dimension: dimension)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: dimension)
        defer { scratch.deallocate() }
        for i in 0..<count {
            ElementConversion.widen(uncheckedRow(i), elementType: elementType, count: dimension, into: scratch)
            ElementConversion.narrow(scratch, count: dimension, to: target, into: result.storage + i * result.rowBytes)
        }
        return result
    }

    /// A matrix was asked for a size Swann does not accept.
    public struct SizeError: Error, Hashable, CustomStringConvertible {
        /// What is wrong, for people.
        public var detail: String
        /// A one-line description for logs and error messages.
        public var description: String { "invalid matrix size: \(detail)" }
    }
}
