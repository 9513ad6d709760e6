package import SwannCore

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
///     32    8  aux1, u64 (per file: row bytes, graph degree, page size)
///     40    8  aux2, u64 (per file: graph entry point, posting entries)
///     48    8  payload bytes after the header, u64
///     56    8  zero
/// ```
/// All integers are little-endian.
package struct SectionHeader: Sendable, Hashable {
    package var magic: String
    package var version: UInt32 = UInt32(IndexManifest.currentFormatVersion)
    package var headerSize: UInt32 = 64
    package var elementType: ElementType?
    package var dimension: UInt32 = 0
    package var count: UInt64 = 0
    package var aux1: UInt64 = 0
    package var aux2: UInt64 = 0
    package var payloadBytes: UInt64 = 0

    package static let size = 64

    package init(magic: String) {
        precondition(magic.utf8.count == 8)
        self.magic = magic
    }

    static func code(_ type: ElementType?) -> UInt8 {
        switch type {
        case .float32: 0
        case .float16: 1
        case .int8: 2
        case .uint8: 3
        case nil: 255
        }
    }

    /// The 64 header bytes.
    package func encoded() -> [UInt8] {
        var bytes = Array(magic.utf8)
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        append(version)
        append(headerSize)
        bytes.append(Self.code(elementType))
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
    package static func decode(_ bytes: UnsafeRawBufferPointer, expectedMagic: String, path: String) throws(IndexError) -> SectionHeader {
        guard bytes.count >= size else {
            throw IndexError(.truncated, path: path, offset: 0, detail: "expected a \(size)-byte header, found \(bytes.count) bytes")
        }
        let magic = String(decoding: bytes[0..<8], as: UTF8.self)
        guard magic == expectedMagic else {
            throw IndexError(.badMagic, path: path, offset: 0, detail: "expected magic \(expectedMagic), found \(magic.debugDescription)")
        }
        func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T { T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        var header = SectionHeader(magic: magic)
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
        switch bytes[16] {
        case 0: header.elementType = .float32
        case 1: header.elementType = .float16
        case 2: header.elementType = .int8
        case 3: header.elementType = .uint8
        case 255: header.elementType = nil
        default: throw IndexError(.inconsistent, path: path, offset: 16, detail: "unknown element type code \(bytes[16])")
        }
        header.dimension = load(20, UInt32.self)
        header.count = load(24, UInt64.self)
        header.aux1 = load(32, UInt64.self)
        header.aux2 = load(40, UInt64.self)
        header.payloadBytes = load(48, UInt64.self)
        return header
    }
}
