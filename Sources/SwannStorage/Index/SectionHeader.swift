@_spi(Engine) package import SwannCore

/// The 64-byte header that starts every binary file of an index (after usearch's 64-byte head).
///
/// ```
/// offset size  field
///      0    8  magic, ASCII ("SWNCENTR", "SWNGRAPH", "SWNPOSTS", "SWNPDIR1", "SWNIDMAP", "SWNVECTS")
///      8    4  format version, u32
///     12    4  header size in bytes, u32 (64; the posting file pads its header to 4096)
///     16    1  element type: 0 float32, 1 float16, 2 int8, 3 uint8, 255 none
///     17    3  zero
///     20    4  dimension, u32 (0 when not applicable)
///     24    8  count, u64 (rows, nodes or lists)
///     32    8  per file: row bytes (centroids, vectors), graph degree, page size (postings)
///     40    8  per file: graph entry point, posting entries (postings, directory)
///     48    8  payload bytes after the header, u64
///     56    8  zero
/// ```
/// All integers are little-endian.
package struct SectionHeader: Sendable, Hashable {
    /// Which file a header starts, by its magic.
    package enum Section: String, Sendable, Hashable, CaseIterable {
        case centroids = "SWNCENTR"
        case graph = "SWNGRAPH"
        case postings = "SWNPOSTS"
        case directory = "SWNPDIR1"
        case idMap = "SWNIDMAP"
        case vectors = "SWNVECTS"

        /// The file's name in an index directory.
        package var fileName: String {
            switch self {
            case .centroids: IndexLayout.centroids
            case .graph: IndexLayout.graph
            case .postings: IndexLayout.postings
            case .directory: IndexLayout.directory
            case .idMap: IndexLayout.idMap
            case .vectors: IndexLayout.vectors
            }
        }
    }

    package var section: Section
    package var version: UInt32 = UInt32(IndexManifest.currentFormatVersion)
    package var headerSize: UInt32 = 64
    package var elementType: ElementType?
    package var dimension: UInt32 = 0
    package var count: UInt64 = 0
    /// The two per-file fields at offsets 32 and 40; read and written through the named
    /// accessors below, which say what each file keeps there.
    private var aux1: UInt64 = 0
    private var aux2: UInt64 = 0
    package var payloadBytes: UInt64 = 0

    package static let size = 64

    package init(_ section: Section) {
        self.section = section
    }

    /// Bytes per row (centroids, vectors).
    package var rowBytes: UInt64 {
        get { aux1 }
        set { aux1 = newValue }
    }
    /// Neighbour slots per node (graph).
    package var graphDegree: UInt64 {
        get { aux1 }
        set { aux1 = newValue }
    }
    /// The node every search starts from (graph).
    package var entryPoint: UInt64 {
        get { aux2 }
        set { aux2 = newValue }
    }
    /// The alignment of every posting list (postings).
    package var pageSize: UInt64 {
        get { aux1 }
        set { aux1 = newValue }
    }
    /// Entries over all posting lists (postings, directory).
    package var postingEntries: UInt64 {
        get { aux2 }
        set { aux2 = newValue }
    }

    /// The element-type byte at offset 16: one table for writing and reading.
    static let elementTypeCodes: [(type: ElementType?, code: UInt8)] = [
        (.float32, 0), (.float16, 1), (.int8, 2), (.uint8, 3), (nil, 255),
    ]

    /// The 64 header bytes.
    package func encoded() -> [UInt8] {
        var bytes = Array(section.rawValue.utf8)
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        append(version)
        append(headerSize)
        bytes.append(Self.elementTypeCodes.first { $0.type == elementType }!.code)
        bytes.append(contentsOf: [0, 0, 0])
        append(dimension)
        append(count)
        append(aux1)
        append(aux2)
        append(payloadBytes)
        append(UInt64(0))
        return bytes
    }

    /// Parses and checks a header.
    /// - Throws: `IndexError` naming `path` for a wrong magic, an unknown version or a bad field.
    package static func decode(_ bytes: UnsafeRawBufferPointer, expected section: Section, path: String) throws(IndexError) -> SectionHeader {
        guard bytes.count >= size else {
            throw IndexError(.truncated, path: path, offset: 0, detail: "expected a \(size)-byte header, found \(bytes.count) bytes")
        }
        let magic = String(decoding: bytes[0..<8], as: UTF8.self)
        guard magic == section.rawValue else {
            throw IndexError(.badMagic, path: path, offset: 0, detail: "expected magic \(section.rawValue), found \(magic.debugDescription)")
        }
        func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T { T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        var header = SectionHeader(section)
        header.version = load(8, UInt32.self)
        guard header.version == UInt32(IndexManifest.currentFormatVersion) else {
            throw IndexError(
                .unsupportedVersion,
                path: path,
                offset: 8,
                detail: "format version \(header.version) is not supported (this build reads version \(IndexManifest.currentFormatVersion))"
            )
        }
        header.headerSize = load(12, UInt32.self)
        guard let type = elementTypeCodes.first(where: { $0.code == bytes[16] }) else {
            throw IndexError(.inconsistent, path: path, offset: 16, detail: "unknown element type code \(bytes[16])")
        }
        header.elementType = type.type
        header.dimension = load(20, UInt32.self)
        header.count = load(24, UInt64.self)
        header.aux1 = load(32, UInt64.self)
        header.aux2 = load(40, UInt64.self)
        header.payloadBytes = load(48, UInt64.self)
        return header
    }
}
