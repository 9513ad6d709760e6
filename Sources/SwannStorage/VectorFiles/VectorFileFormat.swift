@_spi(Engine) public import SwannCore

/// The on-disk layouts Swann reads and writes.
///
/// - TEXMEX (`.fvecs` float32, `.bvecs` uint8, `.ivecs` int32): every row is an int32
///   dimension followed by that many components.
/// - big-ann-benchmarks (`.fbin` float32, `.u8bin` uint8, `.i8bin` int8, `.ibin` int32):
///   uint32 count, uint32 dimension, then count × dimension components, row-major. A
///   ground-truth `.ibin` may carry count × dimension float32 distances after the ids.
/// - NumPy `.npy` (format versions 1–3): a 2-D, C-ordered, little-endian array of float32,
///   float16, int8, uint8 or int32.
public enum VectorFileFormat: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case fvecs, bvecs, ivecs, fbin, u8bin, i8bin, ibin, npy

    /// The format a file name's extension names, if any.
    public init?(path: String) {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return nil }
        self.init(rawValue: path[path.index(after: dot)...].lowercased())
    }

    /// The scalar type of the components, for formats where the extension fixes it (all but npy).
    public var impliedScalar: FileScalar? {
        switch self {
        case .fvecs, .fbin: .float32
        case .bvecs, .u8bin: .uint8
        case .i8bin: .int8
        case .ivecs, .ibin: .int32
        case .npy: nil
        }
    }

    /// Whether rows carry a per-row int32 dimension prefix (TEXMEX).
    public var hasRowPrefix: Bool { self == .fvecs || self == .bvecs || self == .ivecs }

    /// A one-line description for logs and error messages.
    public var description: String { rawValue }
}

/// The scalar type of a file's components: a vector `ElementType`, or an integer type for id
/// and ground-truth files (int32 everywhere; int64/uint64 in `.npy` id files).
public enum FileScalar: String, Sendable, Hashable, Codable, CustomStringConvertible {
    case float32, float16, int8, uint8, int32, int64, uint64

    /// Bytes per component.
    public var byteWidth: Int {
        switch self {
        case .float32, .int32: 4
        case .float16: 2
        case .int8, .uint8: 1
        case .int64, .uint64: 8
        }
    }

    /// The vector element type, or nil for the id types (ids are not searchable vectors).
    public var elementType: ElementType? {
        switch self {
        case .float32: .float32
        case .float16: .float16
        case .int8: .int8
        case .uint8: .uint8
        case .int32, .int64, .uint64: nil
        }
    }

    /// The file scalar that stores `elementType`.
    public init(_ elementType: ElementType) {
        switch elementType {
        case .float32: self = .float32
        case .float16: self = .float16
        case .int8: self = .int8
        case .uint8: self = .uint8
        }
    }

    /// A one-line description for logs and error messages.
    public var description: String { rawValue }
}
